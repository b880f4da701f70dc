/*
 * server/config.h — every directive, declared once. The same table serves
 * the config file, `--directive value` on the command line, CONFIG GET/SET
 * and INFO. Names, defaults, units and error texts follow Redis 7.0 where
 * Redis has the directive.
 *
 * Values are read from any thread: numbers through relaxed atomics, strings
 * as copies taken under a lock (they can change under CONFIG SET).
 */
#ifndef SERVER_CONFIG_H
#define SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum opt_type {
    OPT_BOOL,   /* yes/no */
    OPT_INT,    /* integer within [min, max] */
    OPT_BYTES,  /* memory value: 100, 1k, 1kb, 2mb, 1gb ... within [min, max] */
    OPT_STRING, /* free text */
    OPT_ENUM,   /* one of a space-separated list of names, kept as its index */
    OPT_COBL,   /* client-output-buffer-limit: class hard soft seconds ... */
};

enum { OPT_MUTABLE = 1 << 0, OPT_SENSITIVE = 1 << 1, OPT_PROTECTED = 1 << 2 };

#define LOGLEVEL_NAMES "debug verbose notice warning"
#define POLICY_NAMES "allkeys-lru volatile-lru allkeys-random volatile-random volatile-ttl noeviction"

/* id, name, type, default, min, max, flags, enum names, description */
#define SERVER_OPTIONS(X) \
    X(BIND, "bind", OPT_STRING, "127.0.0.1", 0, 0, 0, NULL, "addresses to listen on, space separated") \
    X(PORT, "port", OPT_INT, "6379", 0, 65535, 0, NULL, "TCP port for clients") \
    X(MEMCACHED_PORT, "memcached-port", OPT_INT, "0", 0, 65535, 0, NULL, "TCP port for memcached's text protocol, 0 = off") \
    X(MEMCACHED_BIND, "memcached-bind", OPT_STRING, "", 0, 0, 0, NULL, "addresses for the memcached port, empty = those of bind") \
    X(MEMCACHED_AUTH_FILE, "memcached-auth-file", OPT_STRING, "", 0, 0, 0, NULL, "memcached's -Y: a file of user:password lines; memcached clients must authenticate, empty = off") \
    X(ITEM_SIZE_MAX, "item-size-max", OPT_BYTES, "1mb", 1024, 1073741824, OPT_MUTABLE, NULL, "largest memcached item (memcached's -I)") \
    X(TCP_BACKLOG, "tcp-backlog", OPT_INT, "511", 0, 65535, 0, NULL, "listen(2) backlog") \
    X(DIR, "dir", OPT_STRING, ".", 0, 0, OPT_PROTECTED, NULL, "working directory") \
    X(DISK_TIER, "disk-tier", OPT_BOOL, "no", 0, 1, 0, NULL, "keys evicted from memory go to compressed segment files under dir instead of away") \
    X(DISK_MAX_BYTES, "disk-max-bytes", OPT_BYTES, "10gb", 1048576, 9223372036854775807LL, 0, NULL, "disk the tier may use; past it the oldest segment is reclaimed") \
    X(SEGMENT_SIZE, "segment-size", OPT_BYTES, "64mb", 65536, 2147483648LL, 0, NULL, "size of one disk tier segment file") \
    X(DISK_COMPRESSION, "disk-compression", OPT_INT, "1", 0, 22, 0, NULL, "zstd level of disk tier blocks, 0 = stored raw") \
    X(DAEMONIZE, "daemonize", OPT_BOOL, "no", 0, 1, 0, NULL, "fork into the background") \
    X(PIDFILE, "pidfile", OPT_STRING, "", 0, 0, 0, NULL, "file to write the pid to, empty for none") \
    X(LOGFILE, "logfile", OPT_STRING, "", 0, 0, 0, NULL, "log file, empty for standard output") \
    X(LOGLEVEL, "loglevel", OPT_ENUM, "notice", 0, 0, OPT_MUTABLE, LOGLEVEL_NAMES, "log verbosity") \
    X(REQUIREPASS, "requirepass", OPT_STRING, "", 0, 0, OPT_MUTABLE | OPT_SENSITIVE, NULL, "password for AUTH, empty for none") \
    X(MAXCLIENTS, "maxclients", OPT_INT, "10000", 1, 1000000, OPT_MUTABLE, NULL, "most simultaneous clients") \
    X(TIMEOUT, "timeout", OPT_INT, "0", 0, 2147483647, OPT_MUTABLE, NULL, "close clients idle this many seconds, 0 = never") \
    X(TCP_KEEPALIVE, "tcp-keepalive", OPT_INT, "300", 0, 2147483647, OPT_MUTABLE, NULL, "TCP keepalive interval in seconds, 0 = off") \
    X(MAXMEMORY, "maxmemory", OPT_BYTES, "0", 0, 9223372036854775807LL, OPT_MUTABLE, NULL, "dataset memory cap, 0 = none") \
    X(MAXMEMORY_POLICY, "maxmemory-policy", OPT_ENUM, "allkeys-lru", 0, 0, OPT_MUTABLE, POLICY_NAMES, "what to evict at maxmemory") \
    X(MAXMEMORY_SAMPLES, "maxmemory-samples", OPT_INT, "5", 1, 2147483647, OPT_MUTABLE, NULL, "keys sampled per eviction (the store uses at most 64)") \
    X(IO_THREADS, "io-threads", OPT_INT, "0", 0, 128, 0, NULL, "worker threads, 0 = one per CPU but one (at least 1)") \
    X(STORE_SHARDS, "store-shards", OPT_INT, "256", 1, 65536, 0, NULL, "lock shards of the keyspace, a power of two") \
    X(PROTO_MAX_BULK_LEN, "proto-max-bulk-len", OPT_BYTES, "512mb", 1048576, 9223372036854775807LL, OPT_MUTABLE, NULL, "largest string argument or value") \
    X(CLIENT_QUERY_BUFFER_LIMIT, "client-query-buffer-limit", OPT_BYTES, "1gb", 1048576, 9223372036854775807LL, OPT_MUTABLE, NULL, "largest pending request of one client") \
    X(CLIENT_OUTPUT_BUFFER_LIMIT, "client-output-buffer-limit", OPT_COBL, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", 0, 0, OPT_MUTABLE, NULL, "class hard soft seconds: close clients whose replies pile up") \
    X(SLOWLOG_LOG_SLOWER_THAN, "slowlog-log-slower-than", OPT_INT, "10000", -1, 9223372036854775807LL, OPT_MUTABLE, NULL, "microseconds; -1 disables, 0 logs everything") \
    X(SLOWLOG_MAX_LEN, "slowlog-max-len", OPT_INT, "128", 0, 9223372036854775807LL, OPT_MUTABLE, NULL, "entries kept in the slow log") \
    X(HZ, "hz", OPT_INT, "10", 1, 500, OPT_MUTABLE, NULL, "background task frequency (expiry, timeouts)") \
    X(DATABASES, "databases", OPT_INT, "1", 1, 1, 0, NULL, "ringcache has database 0 only") \
    X(SAVE, "save", OPT_STRING, "", 0, 0, OPT_MUTABLE, NULL, "RDB snapshots are not supported: only \"\" is accepted") \
    X(APPENDONLY, "appendonly", OPT_BOOL, "no", 0, 0, OPT_MUTABLE, NULL, "AOF is not supported: only no is accepted") \
    X(CLUSTER_ENABLED, "cluster-enabled", OPT_BOOL, "no", 0, 1, 0, NULL, "join a cluster: keys are spread over its members") \
    X(CLUSTER_CONFIG_FILE, "cluster-config-file", OPT_STRING, "nodes.conf", 0, 0, 0, NULL, "membership is saved here, under dir") \
    X(CLUSTER_NODE_ID, "cluster-node-id", OPT_STRING, "", 0, 0, 0, NULL, "40 hex chars; empty = the saved one, or a new random one") \
    X(CLUSTER_ANNOUNCE_IP, "cluster-announce-ip", OPT_STRING, "", 0, 0, 0, NULL, "address other members reach us at; empty = the first bind address") \
    X(CLUSTER_BUS_PORT, "cluster-bus-port", OPT_INT, "0", 0, 65535, 0, NULL, "cluster bus port; 0 = port + 10000") \
    X(CLUSTER_SECRET, "cluster-secret", OPT_STRING, "", 0, 0, OPT_SENSITIVE, NULL, "shared secret of the cluster bus; empty = requirepass") \
    X(CLUSTER_SEEDS, "cluster-seeds", OPT_STRING, "", 0, 0, 0, NULL, "bus addresses host:port,... of any existing members") \
    X(VNODES, "vnodes", OPT_INT, "128", 1, 4096, 0, NULL, "ring tokens per member") \
    X(GOSSIP_INTERVAL_MS, "gossip-interval-ms", OPT_INT, "100", 10, 60000, 0, NULL, "ms between gossip probe rounds") \
    X(FAILURE_DETECT_MS, "failure-detect-ms", OPT_INT, "2000", 50, 3600000, 0, NULL, "ms from a member's last answer until it is declared dead") \
    X(NODE_FORGET_TIMEOUT, "node-forget-timeout", OPT_INT, "14400000", 1000, 9223372036854775807LL, 0, NULL, "ms a dead member stays on the ring") \
    X(CLUSTER_REQUEST_TIMEOUT_MS, "cluster-request-timeout-ms", OPT_INT, "1000", 1, 3600000, OPT_MUTABLE, NULL, "deadline of a request forwarded to another member") \
    X(REPLICAS, "replicas", OPT_INT, "3", 1, 5, OPT_MUTABLE, NULL, "copies of every key (N), capped at the members on the ring") \
    X(WRITE_QUORUM, "write-quorum", OPT_INT, "2", 1, 5, OPT_MUTABLE, NULL, "copies that must hold a write before it is acknowledged (W), capped at N") \
    X(READ_QUORUM, "read-quorum", OPT_INT, "2", 1, 5, OPT_MUTABLE, NULL, "replicas a read consults (R), capped at N; W + R > N reads the last acknowledged write") \
    X(QUORUM_TIMEOUT_MS, "quorum-timeout-ms", OPT_INT, "1000", 1, 3600000, OPT_MUTABLE, NULL, "ms a request waits for its quorum before answering NOREPLICAS") \
    X(HINT_MAX_BYTES, "hint-max-bytes", OPT_BYTES, "1gb", 1048576, 9223372036854775807LL, OPT_MUTABLE, NULL, "disk held by hints for unreachable replicas, under dir/hints") \
    X(HINT_WINDOW, "hint-window", OPT_INT, "10800000", 0, 9223372036854775807LL, OPT_MUTABLE, NULL, "ms hints for a dead member are kept (Cassandra's max_hint_window, 3 h)") \
    X(REBALANCE_MAX_BYTES_PER_SEC, "rebalance-max-bytes-per-sec", OPT_BYTES, "64mb", 0, 9223372036854775807LL, OPT_MUTABLE, NULL, "slot data a member pulls per second when placement gives it slots; 0 = no limit") \
    X(TOMBSTONE_GRACE, "tombstone-grace", OPT_INT, "14400000", 1000, 9223372036854775807LL, OPT_MUTABLE, NULL, "ms a delete's tombstone is kept so the delete wins everywhere; longer than hint-window")

enum config_id {
#define X(id, ...) OPT_##id,
    SERVER_OPTIONS(X)
#undef X
    OPT__COUNT
};

/* Called after a value changed (at load and on CONFIG SET). */
typedef void (*config_apply_fn)(enum config_id id);

void config_setup(void);    /* every option at its default */
void config_teardown(void);
void config_on_change(enum config_id id, config_apply_fn fn);

/* Read a config file (path may be NULL) and then `--name value ...`
 * arguments. On error returns -1 with a message naming the file, line,
 * directive and reason in err. */
int config_load(const char *path, int argc, char **argv, char *err, size_t errlen);

/* Parse and validate one value and store it. With runtime, immutable options
 * are refused. Returns 0, or -1 with Redis's reason in err (e.g. "argument
 * must be a memory value"). */
int config_set(enum config_id id, const char *value, bool runtime, char *err,
               size_t errlen);

/* -1 if unknown. Case-insensitive, as Redis. */
int config_lookup(const char *name, size_t len);
const char *config_name(enum config_id id);
bool config_mutable(enum config_id id);

long long config_num(enum config_id id);       /* BOOL, INT, BYTES, ENUM */
/* Copy of a STRING or COBL value into buf (truncated to cap). */
void config_str(enum config_id id, char *buf, size_t cap);
/* The whole STRING value, however long (secrets have no length limit):
 * malloc'd, the caller frees it; NULL if out of memory. */
char *config_str_dup(enum config_id id);
/* The value as CONFIG GET shows it. */
void config_format(enum config_id id, char *buf, size_t cap);
/* The same, whole and malloc'd (the caller frees it); NULL if out of memory. */
char *config_format_dup(enum config_id id);

/* client-output-buffer-limit for the "normal" class. */
void config_cobl_normal(unsigned long long *hard, unsigned long long *soft,
                        long long *seconds);

/* Redis's memtoull: "1gb" -> 1073741824. Returns -1 if not a memory value. */
int config_parse_bytes(const char *s, unsigned long long *out);

#endif

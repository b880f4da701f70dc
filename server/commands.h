/*
 * server/commands.h — the command table and the reply helpers handlers use.
 *
 * The dispatcher checks arity, authentication and memory before a handler
 * runs, so handlers never re-validate those. A handler gets argv as slices
 * of the client's input buffer (valid for the call) and appends its reply to
 * c->out.
 */
#ifndef SERVER_COMMANDS_H
#define SERVER_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include "resp/reader.h"
#include "resp/writer.h"
#include "server/errors.h"
#include "server/server.h"

/* Flags in Redis 7.0's bit order, so COMMAND INFO lists them as Redis does;
 * ringcache's own flags sit above them. */
enum {
    CMD_WRITE = 1 << 0,
    CMD_READONLY = 1 << 1,
    CMD_DENYOOM = 1 << 2,   /* refused while over maxmemory under noeviction */
    CMD_MODULE = 1 << 3,
    CMD_ADMIN = 1 << 4,
    CMD_PUBSUB = 1 << 5,
    CMD_NOSCRIPT = 1 << 6,
    CMD_BLOCKING = 1 << 7,
    CMD_LOADING = 1 << 8,
    CMD_STALE = 1 << 9,
    CMD_SKIP_MONITOR = 1 << 10,
    CMD_SKIP_SLOWLOG = 1 << 11,
    CMD_FAST = 1 << 12,
    CMD_NOAUTH = 1 << 13,   /* allowed before AUTH */
    CMD_MAY_REPLICATE = 1 << 14,
    CMD_NO_ASYNC_LOADING = 1 << 21,
    CMD_NO_MULTI = 1 << 22,
    CMD_ALLOW_BUSY = 1 << 24,
    CMD_CAT_CONNECTION = 1 << 26, /* ACL category @connection outside its group */
    CMD_DANGEROUS = 1 << 27, /* ACL category @dangerous */
    CMD_CONTAINER = 1 << 28, /* has subcommands */
    CMD_ALLNODES = 1 << 29,  /* in a cluster, runs on every member (KEYS, SCAN...) */
    CMD_MC = 1 << 30,        /* memcached's (memcache.c): hidden from RESP clients and COMMAND */
};
#define CMD_REDIS_FLAGS 25  /* bits COMMAND INFO reports */

typedef void cmd_fn(struct client *c, int argc, const struct resp_arg *argv);

struct command {
    const char *name;       /* lower case; "client|list" for subcommands */
    int arity;              /* Redis's: -N means at least N */
    int flags;
    cmd_fn *fn;
    int first_key, last_key, step; /* key positions for COMMAND and clusters */
    const char *group, *since, *summary, *hint; /* COMMAND DOCS */
    const struct command **subs; /* container commands: filled by setup */
    int nsubs;
    struct doc_arg *args;  /* parsed hint, for COMMAND DOCS */
    int nargs;
    int id;                /* index into per-worker command stats */
};

/* Per-command counters, one array per worker (INFO commandstats). */
struct cmd_stat {
    _Atomic uint64_t calls, usec, rejected, failed;
};

/* Commands: name, arity, flags, handler, first/last/step keys, group, since,
 * summary, argument hint (redis-cli syntax). */
#define CW CMD_WRITE
#define CR CMD_READONLY
#define CM CMD_DENYOOM
#define CF CMD_FAST
#define CLS (CMD_LOADING | CMD_STALE)
#define CNAUTH (CMD_NOSCRIPT | CLS | CMD_FAST | CMD_NOAUTH | CMD_ALLOW_BUSY)
#define COMMANDS(X) \
    X("ping", -1, CF, cmd_ping, 0, 0, 0, "connection", "1.0.0", "Returns the server's liveliness response.", "[message]") \
    X("echo", 2, CLS | CF, cmd_echo, 0, 0, 0, "connection", "1.0.0", "Returns the given string.", "message") \
    X("quit", -1, CNAUTH, cmd_quit, 0, 0, 0, "connection", "1.0.0", "Closes the connection.", "") \
    X("select", 2, CLS | CF, cmd_select, 0, 0, 0, "connection", "1.0.0", "Changes the selected database (0 only).", "index") \
    X("hello", -1, CNAUTH, cmd_hello, 0, 0, 0, "connection", "6.0.0", "Handshakes with the server.", "[protover [AUTH username password] [SETNAME clientname]]") \
    X("auth", -2, CNAUTH, cmd_auth, 0, 0, 0, "connection", "1.0.0", "Authenticates the connection.", "[username] password") \
    X("client", -2, CMD_CONTAINER, cmd_help, 0, 0, 0, "connection", "2.4.0", "A container for client connection commands.", "") \
    X("reset", 1, CNAUTH, cmd_reset, 0, 0, 0, "connection", "6.2.0", "Resets the connection.", "") \
    X("command", -1, CLS | CMD_CAT_CONNECTION, cmd_command, 0, 0, 0, "server", "2.8.13", "Returns detailed information about all commands.", "") \
    X("get", 2, CR | CF, cmd_get, 1, 1, 1, "string", "1.0.0", "Returns the string value of a key.", "key") \
    X("set", -3, CW | CM, cmd_set, 1, 1, 1, "string", "1.0.0", "Sets the string value of a key, ignoring its type.", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]") \
    X("setnx", 3, CW | CM | CF, cmd_setnx, 1, 1, 1, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", "key value") \
    X("setex", 4, CW | CM, cmd_setex, 1, 1, 1, "string", "2.0.0", "Sets the string value and expiration time of a key.", "key seconds value") \
    X("psetex", 4, CW | CM, cmd_psetex, 1, 1, 1, "string", "2.6.0", "Sets the string value and expiration time in milliseconds of a key.", "key milliseconds value") \
    X("getset", 3, CW | CM | CF, cmd_getset, 1, 1, 1, "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", "key value") \
    X("getdel", 2, CW | CF, cmd_getdel, 1, 1, 1, "string", "6.2.0", "Returns the string value of a key after deleting the key.", "key") \
    X("getex", -2, CW | CF, cmd_getex, 1, 1, 1, "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]") \
    X("mget", -2, CR | CF, cmd_mget, 1, -1, 1, "string", "1.0.0", "Atomically returns the string values of one or more keys.", "key [key ...]") \
    X("mset", -3, CW | CM, cmd_mset, 1, -1, 2, "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", "key value [key value ...]") \
    X("msetnx", -3, CW | CM, cmd_msetnx, 1, -1, 2, "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "key value [key value ...]") \
    X("incr", 2, CW | CM | CF, cmd_incr, 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by one.", "key") \
    X("decr", 2, CW | CM | CF, cmd_decr, 1, 1, 1, "string", "1.0.0", "Decrements the integer value of a key by one.", "key") \
    X("incrby", 3, CW | CM | CF, cmd_incrby, 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by a number.", "key increment") \
    X("decrby", 3, CW | CM | CF, cmd_decrby, 1, 1, 1, "string", "1.0.0", "Decrements a number from the integer value of a key.", "key decrement") \
    X("incrbyfloat", 3, CW | CM | CF, cmd_incrbyfloat, 1, 1, 1, "string", "2.6.0", "Increment the floating point value of a key by a number.", "key increment") \
    X("append", 3, CW | CM | CF, cmd_append, 1, 1, 1, "string", "2.0.0", "Appends a string to the value of a key.", "key value") \
    X("strlen", 2, CR | CF, cmd_strlen, 1, 1, 1, "string", "2.2.0", "Returns the length of a string value.", "key") \
    X("getrange", 4, CR, cmd_getrange, 1, 1, 1, "string", "2.4.0", "Returns a substring of the string stored at a key.", "key start end") \
    X("substr", 4, CR, cmd_getrange, 1, 1, 1, "string", "1.0.0", "Returns a substring from a string value.", "key start end") \
    X("setrange", 4, CW | CM, cmd_setrange, 1, 1, 1, "string", "2.2.0", "Overwrites a part of a string value with another by an offset.", "key offset value") \
    X("del", -2, CW, cmd_del, 1, -1, 1, "generic", "1.0.0", "Deletes one or more keys.", "key [key ...]") \
    X("unlink", -2, CW | CF, cmd_del, 1, -1, 1, "generic", "4.0.0", "Asynchronously deletes one or more keys.", "key [key ...]") \
    X("exists", -2, CR | CF, cmd_exists, 1, -1, 1, "generic", "1.0.0", "Determines whether one or more keys exist.", "key [key ...]") \
    X("type", 2, CR | CF, cmd_type, 1, 1, 1, "generic", "1.0.0", "Determines the type of value stored at a key.", "key") \
    X("expire", -3, CW | CF, cmd_expire, 1, 1, 1, "generic", "1.0.0", "Sets the expiration time of a key in seconds.", "key seconds [NX|XX|GT|LT]") \
    X("pexpire", -3, CW | CF, cmd_pexpire, 1, 1, 1, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", "key milliseconds [NX|XX|GT|LT]") \
    X("expireat", -3, CW | CF, cmd_expireat, 1, 1, 1, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", "key unix-time-seconds [NX|XX|GT|LT]") \
    X("pexpireat", -3, CW | CF, cmd_pexpireat, 1, 1, 1, "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "key unix-time-milliseconds [NX|XX|GT|LT]") \
    X("ttl", 2, CR | CF, cmd_ttl, 1, 1, 1, "generic", "1.0.0", "Returns the expiration time in seconds of a key.", "key") \
    X("pttl", 2, CR | CF, cmd_pttl, 1, 1, 1, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", "key") \
    X("expiretime", 2, CR | CF, cmd_expiretime, 1, 1, 1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", "key") \
    X("pexpiretime", 2, CR | CF, cmd_pexpiretime, 1, 1, 1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "key") \
    X("persist", 2, CW | CF, cmd_persist, 1, 1, 1, "generic", "2.2.0", "Removes the expiration time of a key.", "key") \
    X("touch", -2, CR | CF, cmd_touch, 1, -1, 1, "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "key [key ...]") \
    X("keys", 2, CR | CMD_ALLNODES | CMD_DANGEROUS, cmd_keys, 0, 0, 0, "generic", "1.0.0", "Returns all key names that match a pattern.", "pattern") \
    X("scan", -2, CR | CMD_ALLNODES, cmd_scan, 0, 0, 0, "generic", "2.8.0", "Iterates over the key names in the database.", "cursor [MATCH pattern] [COUNT count] [TYPE type]") \
    X("randomkey", 1, CR, cmd_randomkey, 0, 0, 0, "generic", "1.0.0", "Returns a random key name from the database.", "") \
    X("rename", 3, CW, cmd_rename, 1, 2, 1, "generic", "1.0.0", "Renames a key and overwrites the destination.", "key newkey") \
    X("renamenx", 3, CW | CF, cmd_renamenx, 1, 2, 1, "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", "key newkey") \
    X("dbsize", 1, CR | CF | CMD_ALLNODES, cmd_dbsize, 0, 0, 0, "server", "1.0.0", "Returns the number of keys in the database.", "") \
    X("flushdb", -1, CW | CMD_ALLNODES | CMD_DANGEROUS, cmd_flushall, 0, 0, 0, "server", "1.0.0", "Remove all keys from the current database.", "[ASYNC|SYNC]") \
    X("flushall", -1, CW | CMD_ALLNODES | CMD_DANGEROUS, cmd_flushall, 0, 0, 0, "server", "1.0.0", "Removes all keys from all databases.", "[ASYNC|SYNC]") \
    X("memory", -2, CMD_CONTAINER, cmd_help, 0, 0, 0, "server", "4.0.0", "A container for memory diagnostics commands.", "") \
    X("info", -1, CLS | CMD_DANGEROUS, cmd_info, 0, 0, 0, "server", "1.0.0", "Returns information and statistics about the server.", "[section [section ...]]") \
    X("config", -2, CMD_CONTAINER, cmd_help, 0, 0, 0, "server", "2.0.0", "A container for server configuration commands.", "") \
    X("time", 1, CLS | CF, cmd_time, 0, 0, 0, "server", "2.6.0", "Returns the server time.", "") \
    X("slowlog", -2, CMD_CONTAINER, cmd_help, 0, 0, 0, "server", "2.2.12", "A container for slow log commands.", "") \
    X("cluster", -2, CMD_CONTAINER, cmd_help, 0, 0, 0, "cluster", "3.0.0", "A container for Redis Cluster commands.", "") \
    X("readonly", 1, CLS | CF | CMD_CAT_CONNECTION, cmd_readonly, 0, 0, 0, "cluster", "3.0.0", "Enables read-only queries for a connection to a Redis Cluster replica node.", "") \
    X("readwrite", 1, CLS | CF | CMD_CAT_CONNECTION, cmd_readwrite, 0, 0, 0, "cluster", "3.0.0", "Enables read-write queries for a connection to a Reids Cluster replica node.", "") \
    X("wait", 3, CMD_NOSCRIPT, cmd_wait, 0, 0, 0, "connection", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "numreplicas timeout") \
    X("consistency", -1, CLS | CF, cmd_consistency, 0, 0, 0, "connection", "ringcache", "Sets this connection's read and write quorums (ONE, QUORUM, ALL, DEFAULT or R W).", "[ONE|QUORUM|ALL|DEFAULT|read-quorum write-quorum]") \
    X("shutdown", -1, CMD_ADMIN | CMD_NOSCRIPT | CLS | CMD_NO_MULTI | CMD_ALLOW_BUSY, cmd_shutdown, 0, 0, 0, "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]")

/* memcached's operations (memcache.c, cmd_memcache.c), as COMMANDS: run
 * only for memcached connections and the bus, listed by no COMMAND. */
#define MEMCACHE_COMMANDS(X) \
    X("mc.get", 3, CR | CF | CMD_MC, cmd_mc_get, 1, 1, 1, "memcached", "ringcache", "memcached get/gets.", "key cas") \
    X("mc.gat", 4, CW | CF | CMD_MC, cmd_mc_gat, 1, 1, 1, "memcached", "ringcache", "memcached gat/gats.", "key expire-ms cas") \
    X("mc.store", 7, CW | CM | CMD_MC, cmd_mc_store, 1, 1, 1, "memcached", "ringcache", "memcached's storage commands.", "key mode flags expire-ms cas value") \
    X("mc.incr", 4, CW | CM | CF | CMD_MC, cmd_mc_incr, 1, 1, 1, "memcached", "ringcache", "memcached incr/decr.", "key incr delta") \
    X("mc.touch", 3, CW | CF | CMD_MC, cmd_mc_touch, 1, 1, 1, "memcached", "ringcache", "memcached touch.", "key expire-ms") \
    X("mc.delete", 2, CW | CF | CMD_MC, cmd_mc_delete, 1, 1, 1, "memcached", "ringcache", "memcached delete.", "key") \
    X("mc.flush", 2, CW | CMD_ALLNODES | CMD_MC, cmd_mc_flush, 0, 0, 0, "memcached", "ringcache", "memcached flush_all.", "delay") \
    X("mc.mg", 4, CR | CF | CMD_MC, cmd_mc_mg, 1, 1, 1, "memcached", "ringcache", "memcached meta get.", "key now flags") \
    X("mc.mgw", 4, CW | CM | CF | CMD_MC, cmd_mc_mg, 1, 1, 1, "memcached", "ringcache", "memcached meta get that sets a TTL or creates the key.", "key now flags") \
    X("mc.ms", 5, CW | CM | CMD_MC, cmd_mc_ms, 1, 1, 1, "memcached", "ringcache", "memcached meta set.", "key now flags value") \
    X("mc.md", 4, CW | CM | CF | CMD_MC, cmd_mc_md, 1, 1, 1, "memcached", "ringcache", "memcached meta delete.", "key now flags") \
    X("mc.ma", 4, CW | CM | CF | CMD_MC, cmd_mc_ma, 1, 1, 1, "memcached", "ringcache", "memcached meta arithmetic.", "key now flags") \
    X("mc.me", 3, CR | CF | CMD_MC, cmd_mc_me, 1, 1, 1, "memcached", "ringcache", "memcached meta debug.", "key b")

/* Subcommands: parent, name, arity, flags, handler, keys, since, summary, hint. */
#define SUBCOMMANDS(X) \
    X(client, "id", 2, CMD_NOSCRIPT | CLS, cmd_client_id, 0, 0, 0, "5.0.0", "Returns the unique client ID of the connection.", "") \
    X(client, "setname", 3, CMD_NOSCRIPT | CLS, cmd_client_setname, 0, 0, 0, "2.6.9", "Sets the connection name.", "connection-name") \
    X(client, "getname", 2, CMD_NOSCRIPT | CLS, cmd_client_getname, 0, 0, 0, "2.6.9", "Returns the name of the connection.", "") \
    X(client, "list", -2, CMD_ADMIN | CMD_NOSCRIPT | CLS, cmd_client_list, 0, 0, 0, "2.4.0", "Lists open connections.", "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]") \
    X(client, "info", 2, CMD_NOSCRIPT | CLS, cmd_client_info, 0, 0, 0, "6.2.0", "Returns information about the connection.", "") \
    X(client, "setinfo", 4, CMD_NOSCRIPT | CLS, cmd_client_setinfo, 0, 0, 0, "7.2.0", "Sets information specific to the client or connection.", "LIB-NAME libname|LIB-VER libver") \
    X(client, "kill", -3, CMD_ADMIN | CMD_NOSCRIPT | CLS, cmd_client_kill, 0, 0, 0, "2.4.0", "Terminates open connections.", "[ip:port] [ID client-id] [ADDR ip:port] [LADDR ip:port] [SKIPME yes-or-no]") \
    X(client, "help", 2, CLS, cmd_help, 0, 0, 0, "5.0.0", "Returns helpful text about the different subcommands.", "") \
    X(config, "get", -3, CMD_ADMIN | CMD_NOSCRIPT | CLS, cmd_config_get, 0, 0, 0, "2.0.0", "Returns the effective values of configuration parameters.", "parameter [parameter ...]") \
    X(config, "set", -4, CMD_ADMIN | CMD_NOSCRIPT | CLS, cmd_config_set, 0, 0, 0, "2.0.0", "Sets configuration parameters in-flight.", "parameter value [parameter value ...]") \
    X(config, "resetstat", 2, CMD_ADMIN | CMD_NOSCRIPT | CLS, cmd_config_resetstat, 0, 0, 0, "2.0.0", "Resets the server's statistics.", "") \
    X(config, "help", 2, CLS, cmd_help, 0, 0, 0, "5.0.0", "Returns helpful text about the different subcommands.", "") \
    X(command, "count", 2, CLS | CMD_CAT_CONNECTION, cmd_command_count, 0, 0, 0, "2.8.13", "Returns a count of commands.", "") \
    X(command, "info", -2, CLS | CMD_CAT_CONNECTION, cmd_command_info, 0, 0, 0, "2.8.13", "Returns information about one, multiple or all commands.", "[command-name [command-name ...]]") \
    X(command, "docs", -2, CLS | CMD_CAT_CONNECTION, cmd_command_docs, 0, 0, 0, "7.0.0", "Returns documentary information about one, multiple or all commands.", "[command-name [command-name ...]]") \
    X(command, "list", -2, CLS | CMD_CAT_CONNECTION, cmd_command_list, 0, 0, 0, "7.0.0", "Returns a list of command names.", "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]") \
    X(command, "getkeys", -4, CLS | CMD_CAT_CONNECTION, cmd_command_getkeys, 0, 0, 0, "2.8.13", "Extracts the key names from an arbitrary command.", "command [arg [arg ...]]") \
    X(command, "getkeysandflags", -4, CLS | CMD_CAT_CONNECTION, cmd_command_getkeys, 0, 0, 0, "7.0.0", "Extracts the key names and access flags for an arbitrary command.", "command [arg [arg ...]]") \
    X(command, "help", 2, CLS | CMD_CAT_CONNECTION, cmd_help, 0, 0, 0, "5.0.0", "Returns helpful text about the different subcommands.", "") \
    X(slowlog, "get", -2, CMD_ADMIN | CLS, cmd_slowlog_get, 0, 0, 0, "2.2.12", "Returns the slow log's entries.", "[count]") \
    X(slowlog, "len", 2, CMD_ADMIN | CLS, cmd_slowlog_len, 0, 0, 0, "2.2.12", "Returns the number of entries in the slow log.", "") \
    X(slowlog, "reset", 2, CMD_ADMIN | CLS, cmd_slowlog_reset, 0, 0, 0, "2.2.12", "Clears all entries from the slow log.", "") \
    X(slowlog, "help", 2, CLS, cmd_help, 0, 0, 0, "6.2.0", "Show helpful text about the different subcommands.", "") \
    X(memory, "usage", -3, CR, cmd_memory_usage, 2, 2, 1, "4.0.0", "Estimates the memory usage of a key.", "key [SAMPLES count]") \
    X(memory, "help", 2, CLS, cmd_help, 0, 0, 0, "4.0.0", "Returns helpful text about the different subcommands.", "") \
    X(cluster, "info", 2, CMD_STALE, cmd_cluster_info, 0, 0, 0, "3.0.0", "Returns information about the state of a node.", "") \
    X(cluster, "myid", 2, CMD_STALE, cmd_cluster_myid, 0, 0, 0, "3.0.0", "Returns the ID of a node.", "") \
    X(cluster, "nodes", 2, CMD_STALE, cmd_cluster_nodes, 0, 0, 0, "3.0.0", "Returns the cluster configuration for a node.", "") \
    X(cluster, "slots", 2, CMD_STALE, cmd_cluster_slots, 0, 0, 0, "3.0.0", "Returns the mapping of cluster slots to nodes.", "") \
    X(cluster, "shards", 2, CMD_STALE, cmd_cluster_shards, 0, 0, 0, "7.0.0", "Returns the mapping of cluster slots to shards.", "") \
    X(cluster, "keyslot", 3, CMD_STALE, cmd_cluster_keyslot, 0, 0, 0, "3.0.0", "Returns the hash slot for a key.", "key") \
    X(cluster, "countkeysinslot", 3, CMD_STALE, cmd_cluster_countkeysinslot, 0, 0, 0, "3.0.0", "Returns the number of keys in a hash slot.", "slot") \
    X(cluster, "getkeysinslot", 4, CMD_STALE, cmd_cluster_getkeysinslot, 0, 0, 0, "3.0.0", "Returns the key names in a hash slot.", "slot count") \
    X(cluster, "meet", -4, CMD_ADMIN | CMD_STALE | CMD_NO_ASYNC_LOADING, cmd_cluster_meet, 0, 0, 0, "3.0.0", "Forces a node to handshake with another node.", "ip port [cluster-bus-port]") \
    X(cluster, "forget", 3, CMD_ADMIN | CMD_STALE | CMD_NO_ASYNC_LOADING, cmd_cluster_forget, 0, 0, 0, "3.0.0", "Removes a node from the nodes table.", "node-id") \
    X(cluster, "help", 2, CLS, cmd_help, 0, 0, 0, "5.0.0", "Returns helpful text about the different subcommands.", "")

#define X(nm, ar, fl, fn, ...) cmd_fn fn;
#define XS(parent, nm, ar, fl, fn, ...) cmd_fn fn;
COMMANDS(X)
MEMCACHE_COMMANDS(X)
SUBCOMMANDS(XS)
#undef X
#undef XS
cmd_fn cmd_ping, cmd_help;

void commands_setup(void);
/* A command that runs on every member and writes (FLUSHALL): it must not
 * start while the connection's earlier commands are still in flight on
 * other members, or it could overtake their writes. */
bool commands_waits_for_replies(int argc, const struct resp_arg *argv);
/* FLUSHALL's work (cmd_keys.c), also memcached's flush_all. */
void keys_flush(void);
/* Parse, check and run one request; the reply goes to c->out. */
/* Run argv here, never routed, as a client of `proto` would see it, with
 * the reply in *out (initialized here; the caller deinits it) and c->out
 * untouched. */
void commands_run_captured(struct client *c, enum resp_proto proto, int argc,
                           const struct resp_arg *argv, struct resp_buf *out);
void commands_dispatch(struct client *c, int argc, const struct resp_arg *argv);
/* Count a command that ran (INFO stats and commandstats, SLOWLOG), for
 * commands_dispatch and for a command answered without it (replicate.c). */
void commands_account(struct client *c, const struct command *cmd, int argc,
                      const struct resp_arg *argv, int64_t dt, bool failed);
const struct command *commands_lookup(const char *name, size_t len);
/* Number of commands and subcommands: the size of a cmd_stat array. */
size_t commands_count(void);
/* INFO commandstats and errorstats sections. */
void commands_info_stats(struct resp_buf *b);
void commands_info_errors(struct resp_buf *b);
void commands_reset_stats(void);
/* Every top-level command, in table order; n set to the count. */
const struct command *commands_all(size_t *n);

/* ---- reply helpers: the only place that turns a status into an error. ----*/
void reply_ok(struct client *c);
void reply_error(struct client *c, const char *msg);
void reply_errorf(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Map a store status onto Redis's reply; STORE_OK replies nothing. */
void reply_store_error(struct client *c, int st);

/* Constant-time comparison of a secret (AUTH, the cluster bus). */
bool password_equal(const char *a, size_t alen, const char *b, size_t blen);

/* ---- argument helpers (Redis's getLongLongFromObject and friends) --------*/
bool arg_ll(const struct resp_arg *a, long long *out);    /* strict string2ll */
bool arg_ld(const struct resp_arg *a, long double *out);  /* strict string2ld */
bool arg_is(const struct resp_arg *a, const char *lit);   /* case-insensitive */
/* A SCAN cursor as Redis parses it (strtoul: a sign or "" is accepted; a
 * leading space, trailing garbage or overflow is "ERR invalid cursor"). */
bool arg_cursor_or_reply(struct client *c, const struct resp_arg *a, unsigned long long *out);
/* arg_ll, replying ERR_NOT_INTEGER (or msg) and returning false on failure. */
bool arg_ll_or_reply(struct client *c, const struct resp_arg *a, long long *out,
                     const char *msg);

#endif

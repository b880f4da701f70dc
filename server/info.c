/*
 * server/info.c — INFO, with Redis 7.0's sections and field names so that
 * tools reading them (redis-cli --stat, exporters, client libraries) work
 * unchanged, plus ringcache's own fields where Redis has none.
 *
 * Memory: used_memory is what jemalloc has allocated for the whole process,
 * as in Redis; maxmemory bounds used_memory_dataset, the items and their
 * index, which the store accounts exactly (docs/architecture.md says why).
 */
#ifdef RC_SANITIZERS
/* from libasan (<sanitizer/allocator_interface.h>, which gcc does not ship) */
#include <stddef.h>
size_t __sanitizer_get_current_allocated_bytes(void);
size_t __sanitizer_get_heap_size(void);
#else
#include <jemalloc/jemalloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "server/cluster.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/reader.h"
#include "server/replicate.h"
#include "storage/store.h"
#include "storage/tier.h"

#define OPS_SAMPLES 16

static struct {
    pthread_mutex_t lock;
    uint64_t samples[OPS_SAMPLES];
    int idx;
    uint64_t last_ops;
    int64_t last_ms;
    _Atomic uint64_t peak;
} meter = { .lock = PTHREAD_MUTEX_INITIALIZER };

#ifdef RC_SANITIZERS
/* The sanitizer build has no jemalloc (--enable-sanitizers): its allocator's
 * own counts stand in, "allocated" exact, "active"/"resident" its heap. */
#define ALLOCATOR_NAME "libc"
static size_t
jemalloc_stat(const char *name)
{
    if (strcmp(name, "stats.allocated") == 0) {
        return __sanitizer_get_current_allocated_bytes();
    }
    return __sanitizer_get_heap_size();
}

static void
jemalloc_refresh(void)
{
}
#else
#define ALLOCATOR_NAME "jemalloc-" JEMALLOC_VERSION
static size_t
jemalloc_stat(const char *name)
{
    size_t v = 0, sz = sizeof v;

    if (mallctl(name, &v, &sz, NULL, 0) != 0) {
        return 0;
    }
    return v;
}

static void
jemalloc_refresh(void)
{
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;

    mallctl("epoch", &epoch, &sz, &epoch, sz);
}
#endif

static size_t
rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
        resident = 0;
    }
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Called by the main thread ten times a second: ops/sec over the last 1.6 s,
 * and the memory peak. */
void
info_sample(void)
{
    struct worker_stats ws;
    int64_t now = now_ms();
    uint64_t used;

    worker_stats_sum(&ws);
    pthread_mutex_lock(&meter.lock);
    if (meter.last_ms != 0 && now > meter.last_ms) {
        uint64_t ops = ws.total_commands_processed - meter.last_ops;
        meter.samples[meter.idx++ % OPS_SAMPLES] = ops * 1000 / (uint64_t)(now - meter.last_ms);
    }
    meter.last_ms = now;
    meter.last_ops = ws.total_commands_processed;
    pthread_mutex_unlock(&meter.lock);
    /* Refreshing jemalloc's statistics costs ~200k instructions: once a
     * second is enough for the peak, and keeps an idle server idle. */
    if (meter.idx % 10 != 0) {
        return;
    }
    jemalloc_refresh();
    used = jemalloc_stat("stats.allocated");
    if (used > atomic_load(&meter.peak)) {
        atomic_store(&meter.peak, used);
    }
}

static uint64_t
ops_per_sec(void)
{
    uint64_t sum = 0;

    pthread_mutex_lock(&meter.lock);
    for (int i = 0; i < OPS_SAMPLES; i++) {
        sum += meter.samples[i];
    }
    pthread_mutex_unlock(&meter.lock);
    return sum / OPS_SAMPLES;
}

static void
human_bytes(char *buf, size_t cap, double n)
{
    static const char units[] = "BKMGTP";
    int u = 0;

    while (n >= 1024 && u < 5) {
        n /= 1024;
        u++;
    }
    if (u == 0) {
        snprintf(buf, cap, "%.0fB", n);
    } else {
        snprintf(buf, cap, "%.2f%c", n, units[u]);
    }
}

void
info_add(struct resp_buf *b, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0) {
        resp_add_raw(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        resp_add_raw(b, "\r\n", 2);
    }
}

static void
section_server(struct resp_buf *b, int64_t now)
{
    struct utsname u;
    int64_t up = (now - server.start_ms) / 1000;

    uname(&u);
    info_add(b, "# Server");
    info_add(b, "redis_version:%s", REDIS_COMPAT_VERSION);
    info_add(b, "ringcache_version:%s", RINGCACHE_VERSION);
    info_add(b, "redis_git_sha1:00000000");
    info_add(b, "redis_git_dirty:0");
    info_add(b, "redis_build_id:0");
    info_add(b, "redis_mode:standalone");
    info_add(b, "os:%s %s %s", u.sysname, u.release, u.machine);
    info_add(b, "arch_bits:%d", (int)sizeof(void *) * 8);
    info_add(b, "monotonic_clock:POSIX clock_gettime");
    info_add(b, "multiplexing_api:epoll");
    info_add(b, "atomicvar_api:c11-builtin");
    info_add(b, "gcc_version:%d.%d.%d", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
    info_add(b, "process_id:%d", (int)server.pid);
    info_add(b, "process_supervised:no");
    info_add(b, "run_id:%s", server.run_id);
    info_add(b, "tcp_port:%lld", config_num(OPT_PORT));
    info_add(b, "server_time_usec:%lld", (long long)now * 1000);
    info_add(b, "uptime_in_seconds:%lld", (long long)up);
    info_add(b, "uptime_in_days:%lld", (long long)up / 86400);
    info_add(b, "hz:%lld", config_num(OPT_HZ));
    info_add(b, "configured_hz:%lld", config_num(OPT_HZ));
    info_add(b, "lru_clock:%lld", (long long)((now / 1000) & ((1 << 24) - 1)));
    info_add(b, "executable:%s", server.executable);
    info_add(b, "config_file:%s", server.config_file);
    info_add(b, "io_threads_active:%d", server.nworkers > 1);
    info_add(b, "io_threads:%d", server.nworkers);
}

static void
section_clients(struct resp_buf *b)
{
    info_add(b, "# Clients");
    info_add(b, "connected_clients:%u", atomic_load(&server.nclients));
    info_add(b, "cluster_connections:0");
    info_add(b, "maxclients:%lld", config_num(OPT_MAXCLIENTS));
    info_add(b, "client_recent_max_input_buffer:0");
    info_add(b, "client_recent_max_output_buffer:0");
    info_add(b, "blocked_clients:0");
    info_add(b, "tracking_clients:0");
    info_add(b, "clients_in_timeout_table:0");
}

static void
section_memory(struct resp_buf *b)
{
    struct store_stats ss;
    size_t used, rss, active, resident;
    uint64_t peak;
    char h1[32], h2[32], h3[32], h4[32], h5[32];
    long long maxmem = config_num(OPT_MAXMEMORY);
    long pages = sysconf(_SC_PHYS_PAGES);
    size_t total = pages > 0 ? (size_t)pages * (size_t)sysconf(_SC_PAGESIZE) : 0;
    char policy[32];

    store_stats(server.store, &ss);
    jemalloc_refresh();
    used = jemalloc_stat("stats.allocated");
    active = jemalloc_stat("stats.active");
    resident = jemalloc_stat("stats.resident");
    rss = rss_bytes();
    peak = atomic_load(&meter.peak);
    if (used > peak) {
        peak = used;
        atomic_store(&meter.peak, peak);
    }
    human_bytes(h1, sizeof h1, (double)used);
    human_bytes(h2, sizeof h2, (double)rss);
    human_bytes(h3, sizeof h3, (double)peak);
    human_bytes(h4, sizeof h4, (double)total);
    human_bytes(h5, sizeof h5, (double)maxmem);
    config_format(OPT_MAXMEMORY_POLICY, policy, sizeof policy);
    info_add(b, "# Memory");
    info_add(b, "used_memory:%zu", used);
    info_add(b, "used_memory_human:%s", h1);
    info_add(b, "used_memory_rss:%zu", rss);
    info_add(b, "used_memory_rss_human:%s", h2);
    info_add(b, "used_memory_peak:%llu", (unsigned long long)peak);
    info_add(b, "used_memory_peak_human:%s", h3);
    info_add(b, "used_memory_peak_perc:%.2f%%", peak ? 100.0 * (double)used / (double)peak : 100.0);
    info_add(b, "used_memory_overhead:%llu", (unsigned long long)(used > ss.item_bytes ? used - ss.item_bytes : 0));
    info_add(b, "used_memory_dataset:%llu", (unsigned long long)ss.used_bytes);
    info_add(b, "used_memory_dataset_perc:%.2f%%", used ? 100.0 * (double)ss.used_bytes / (double)used : 0.0);
    info_add(b, "allocator_allocated:%zu", used);
    info_add(b, "allocator_active:%zu", active);
    info_add(b, "allocator_resident:%zu", resident);
    info_add(b, "total_system_memory:%zu", total);
    info_add(b, "total_system_memory_human:%s", h4);
    info_add(b, "maxmemory:%lld", maxmem);
    info_add(b, "maxmemory_human:%s", h5);
    info_add(b, "maxmemory_policy:%s", policy);
    info_add(b, "allocator_frag_ratio:%.2f", used ? (double)active / (double)used : 1.0);
    info_add(b, "mem_fragmentation_ratio:%.2f", used ? (double)rss / (double)used : 1.0);
    info_add(b, "mem_allocator:%s", ALLOCATOR_NAME);
    info_add(b, "dataset_items_bytes:%llu", (unsigned long long)ss.item_bytes);
    info_add(b, "dataset_index_bytes:%llu", (unsigned long long)ss.index_bytes);
    info_add(b, "dataset_payload_bytes:%llu", (unsigned long long)ss.payload_bytes);
    info_add(b, "bytes_per_key_overhead:%.2f",
        ss.keys ? (double)(ss.used_bytes - ss.payload_bytes) / (double)ss.keys : 0.0);
}

static void
section_persistence(struct resp_buf *b)
{
    info_add(b, "# Persistence");
    info_add(b, "loading:0");
    info_add(b, "async_loading:0");
    info_add(b, "rdb_changes_since_last_save:0");
    info_add(b, "rdb_bgsave_in_progress:0");
    info_add(b, "rdb_last_bgsave_status:ok");
    info_add(b, "aof_enabled:0");
    info_add(b, "aof_rewrite_in_progress:0");
    info_add(b, "aof_last_write_status:ok");
}

static void
section_stats(struct resp_buf *b)
{
    struct worker_stats ws;
    struct store_stats ss;

    worker_stats_sum(&ws);
    store_stats(server.store, &ss);
    info_add(b, "# Stats");
    info_add(b, "total_connections_received:%llu", (unsigned long long)ws.total_connections_received);
    info_add(b, "total_commands_processed:%llu", (unsigned long long)ws.total_commands_processed);
    info_add(b, "instantaneous_ops_per_sec:%llu", (unsigned long long)ops_per_sec());
    info_add(b, "total_net_input_bytes:%llu", (unsigned long long)ws.total_net_input_bytes);
    info_add(b, "total_net_output_bytes:%llu", (unsigned long long)ws.total_net_output_bytes);
    info_add(b, "rejected_connections:%llu",
             (unsigned long long)atomic_load_explicit(&server.stat_rejected_connections,
                                                      memory_order_relaxed));
    info_add(b, "expired_keys:%llu", (unsigned long long)ss.expired_keys);
    info_add(b, "evicted_keys:%llu", (unsigned long long)ss.evicted_keys);
    info_add(b, "keyspace_hits:%llu", (unsigned long long)ws.keyspace_hits);
    info_add(b, "keyspace_misses:%llu", (unsigned long long)ws.keyspace_misses);
    info_add(b, "pubsub_channels:0");
    info_add(b, "pubsub_patterns:0");
    info_add(b, "total_error_replies:%llu", (unsigned long long)ws.total_error_replies);
    info_add(b, "unexpected_error_replies:%llu", (unsigned long long)ws.unexpected_error_replies);
    info_add(b, "client_query_buffer_limit_disconnections:%llu",
        (unsigned long long)ws.client_query_buffer_limit_disconnections);
    info_add(b, "client_output_buffer_limit_disconnections:%llu",
        (unsigned long long)ws.client_output_buffer_limit_disconnections);
}

static void
section_replication(struct resp_buf *b)
{
    info_add(b, "# Replication");
    info_add(b, "role:master");
    info_add(b, "connected_slaves:0");
    info_add(b, "master_replid:%s", server.run_id);
    info_add(b, "master_repl_offset:0");
    repl_info(b);
}

static void
section_cpu(struct resp_buf *b)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    info_add(b, "# CPU");
    info_add(b, "used_cpu_sys:%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
    info_add(b, "used_cpu_user:%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
}

static void
section_cluster(struct resp_buf *b)
{
    info_add(b, "# Cluster");
    cluster_info(b);
}

static void
section_keyspace(struct resp_buf *b)
{
    struct store_stats ss;

    store_stats(server.store, &ss);
    info_add(b, "# Keyspace");
    if (ss.keys > 0) {
        info_add(b, "db0:keys=%llu,expires=%llu,avg_ttl=0", (unsigned long long)ss.keys,
            (unsigned long long)ss.volatile_keys);
    }
}

/* The disk tier (ringcache's own section, INFO storage). */
static void
section_storage(struct resp_buf *b)
{
    struct store_stats ss;
    struct tier_stats ts;
    struct tier *t = store_tier(server.store);

    store_stats(server.store, &ss);
    info_add(b, "# Storage");
    info_add(b, "mem_keys:%llu", (unsigned long long)ss.keys);
    info_add(b, "mem_bytes:%llu", (unsigned long long)ss.used_bytes);
    info_add(b, "disk_tier:%d", t != NULL);
    if (t == NULL) {
        return;
    }
    tier_stats(t, &ts);
    info_add(b, "disk_keys:%llu", (unsigned long long)ts.cold_keys);
    info_add(b, "disk_index_entries:%llu", (unsigned long long)ts.index_entries);
    info_add(b, "disk_index_ram_bytes:%llu", (unsigned long long)ts.ram_bytes);
    info_add(b, "disk_index_bytes_per_key:%.2f",
        ts.index_entries ? (double)ts.ram_bytes / (double)ts.index_entries : 0.0);
    info_add(b, "disk_bytes:%llu", (unsigned long long)ts.disk_bytes);
    info_add(b, "disk_max_bytes:%llu", (unsigned long long)ts.disk_max_bytes);
    info_add(b, "disk_segments:%llu", (unsigned long long)ts.segments);
    info_add(b, "disk_compression_ratio:%.2f",
        ts.disk_bytes_written ? (double)ts.raw_bytes_written / (double)ts.disk_bytes_written : 1.0);
    info_add(b, "disk_records_written:%llu", (unsigned long long)ts.records_written);
    info_add(b, "disk_blocks_written:%llu", (unsigned long long)ts.blocks_written);
    info_add(b, "disk_raw_bytes_written:%llu", (unsigned long long)ts.raw_bytes_written);
    info_add(b, "disk_bytes_written:%llu", (unsigned long long)ts.disk_bytes_written);
    info_add(b, "disk_reads:%llu", (unsigned long long)ts.disk_reads);
    info_add(b, "disk_read_avg_us:%.2f",
        ts.disk_reads ? (double)ts.read_ns_total / 1000.0 / (double)ts.disk_reads : 0.0);
    {
        struct reader_stats rs;

        reader_stats(&rs);
        info_add(b, "disk_async_commands:%llu", (unsigned long long)rs.async_cmds);
        info_add(b, "disk_async_reads:%llu", (unsigned long long)rs.async_reads);
        info_add(b, "disk_async_fallbacks:%llu", (unsigned long long)rs.fallbacks);
        info_add(b, "disk_async_wait_avg_us:%.2f",
            rs.async_cmds ? (double)rs.wait_us_total / (double)rs.async_cmds : 0.0);
    }
    info_add(b, "disk_queue_hits:%llu", (unsigned long long)ts.queue_hits);
    info_add(b, "disk_queue_bytes:%llu", (unsigned long long)ts.queue_bytes);
    info_add(b, "disk_promotions:%llu", (unsigned long long)ts.promotions);
    info_add(b, "disk_clean_evictions:%llu", (unsigned long long)ts.clean_evictions);
    info_add(b, "disk_refused:%llu", (unsigned long long)ts.refused);
    info_add(b, "disk_refused_queue_full:%llu", (unsigned long long)ts.refused_full);
    info_add(b, "disk_refused_disk_failing:%llu", (unsigned long long)ts.refused_failing);
    info_add(b, "disk_refused_too_big:%llu", (unsigned long long)ts.refused_too_big);
    info_add(b, "disk_evicted_keys:%llu", (unsigned long long)ts.evicted);
    info_add(b, "disk_expired_keys:%llu", (unsigned long long)ts.expired);
    info_add(b, "disk_tombstones:%llu", (unsigned long long)ts.tombstones);
    info_add(b, "disk_reclaimed_segments:%llu", (unsigned long long)ts.reclaimed_segments);
    info_add(b, "disk_compacted_segments:%llu", (unsigned long long)ts.compacted_segments);
    info_add(b, "disk_rewritten_records:%llu", (unsigned long long)ts.rewritten_records);
    info_add(b, "disk_read_errors:%llu", (unsigned long long)ts.read_errors);
    info_add(b, "disk_write_errors:%llu", (unsigned long long)ts.write_errors);
    info_add(b, "disk_bad_blocks:%llu", (unsigned long long)ts.bad_blocks);
    info_add(b, "disk_bad_records:%llu", (unsigned long long)ts.bad_records);
    info_add(b, "disk_torn_segments:%llu", (unsigned long long)ts.torn_segments);
    info_add(b, "disk_unreadable_segments:%llu", (unsigned long long)ts.unreadable_segments);
    info_add(b, "disk_rebuilt_keys:%llu", (unsigned long long)ts.rebuilt_keys);
    info_add(b, "disk_rebuild_ms:%llu", (unsigned long long)ts.rebuild_ms);
}

static void
section_modules(struct resp_buf *b)
{
    info_add(b, "# Modules");
}

static const struct {
    const char *name;
    void (*fn)(struct resp_buf *b);
    bool is_default;
} sections[] = {
    { "clients", section_clients, true },
    { "memory", section_memory, true },
    { "persistence", section_persistence, true },
    { "stats", section_stats, true },
    { "replication", section_replication, true },
    { "cpu", section_cpu, true },
    { "modules", section_modules, true },
    { "errorstats", commands_info_errors, true },
    { "cluster", section_cluster, true },
    { "keyspace", section_keyspace, true },
    { "commandstats", commands_info_stats, false },
    { "storage", section_storage, false }, /* INFO storage: the disk tier */
};

void
cmd_info(struct client *c, int argc, const struct resp_arg *argv)
{
    struct resp_buf b;
    bool all = argc == 1, want_server = argc == 1;
    bool want[sizeof sections / sizeof sections[0]] = { false };
    size_t nsec = sizeof sections / sizeof sections[0];

    for (int i = 1; i < argc; i++) {
        if (arg_is(&argv[i], "all") || arg_is(&argv[i], "everything") ||
            arg_is(&argv[i], "default")) {
            all = true;
            want_server = true;
        } else if (arg_is(&argv[i], "server")) {
            want_server = true;
        }
        for (size_t s = 0; s < nsec; s++) {
            want[s] |= arg_is(&argv[i], sections[s].name);
        }
    }
    resp_buf_init(&b);
    if (want_server) {
        section_server(&b, c->now_ms);
    }
    for (size_t s = 0; s < nsec; s++) {
        if (want[s] || (all && sections[s].is_default)) {
            if (b.len > 0) {
                resp_add_raw(&b, "\r\n", 2);
            }
            sections[s].fn(&b);
        }
    }
    resp_add_verbatim(&c->out, c->proto, "txt", b.data ? b.data : "", b.len);
    resp_buf_deinit(&b);
}

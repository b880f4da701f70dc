/*
 * server/main.c — ringcache-server: read the configuration, set the modules
 * up in dependency order, serve until SHUTDOWN or a signal, tear down in
 * reverse order.
 *
 * Usage is redis-server's: `ringcache-server [config-file] [--directive value ...]`.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/slots.h"
#include "server/cluster.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/log.h"
#include "server/memcache.h"
#include "server/server.h"
#include "storage/store.h"
#include "storage/tier.h"

/* The disk tier's messages (rebuild damage, write errors) go to our log. */
static void
tier_log(const char *msg)
{
    log_msg(LOG_WARNING, "%s", msg);
}

static void
usage(void)
{
    fprintf(stderr,
            "Usage: ./ringcache-server [/path/to/ringcache.conf] [options]\n"
            "       ./ringcache-server -v or --version\n"
            "       ./ringcache-server -h or --help\n\n"
            "Examples:\n"
            "       ./ringcache-server (run the server with default conf)\n"
            "       ./ringcache-server conf/ringcache.conf\n"
            "       ./ringcache-server --port 7777\n"
            "       ./ringcache-server conf/ringcache.conf --port 7000 --loglevel verbose\n");
}

static void
apply_store(enum config_id id)
{
    if (server.store == NULL) {
        return;
    }
    switch (id) {
    case OPT_MAXMEMORY:
        store_set_maxmemory(server.store, (uint64_t)config_num(OPT_MAXMEMORY));
        break;
    case OPT_MAXMEMORY_POLICY:
        store_set_policy(server.store, (enum store_policy)config_num(OPT_MAXMEMORY_POLICY));
        break;
    case OPT_MAXMEMORY_SAMPLES:
        store_set_samples(server.store, (unsigned)config_num(OPT_MAXMEMORY_SAMPLES));
        break;
    case OPT_PROTO_MAX_BULK_LEN:
        store_set_max_value_len(server.store, (uint64_t)config_num(OPT_PROTO_MAX_BULK_LEN));
        break;
    default:
        break;
    }
}

static void
apply_loglevel(enum config_id id)
{
    log_set_level((enum log_level)config_num(id));
}

static int
daemonize(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0) {
        return -1;
    }
    if (pid > 0) {
        _exit(0);
    }
    setsid();
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) {
            close(fd);
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    char err[2048], path[PATH_MAX], logfile[PATH_MAX], pidfile[PATH_MAX];
    const char *conf = NULL;
    int first_opt = 1;
    struct store_config sc = { 0 };
    struct tier *tier = NULL;

    if (argc >= 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
#ifdef RC_SANITIZERS
        printf("ringcache-server v=%s (Redis protocol %s) malloc=libc (ASan+UBSan)\n",
               RINGCACHE_VERSION, REDIS_COMPAT_VERSION);
#else
        printf("ringcache-server v=%s (Redis protocol %s) malloc=jemalloc\n",
               RINGCACHE_VERSION, REDIS_COMPAT_VERSION);
#endif
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage();
        return 0;
    }
    if (argc >= 2 && strncmp(argv[1], "--", 2) != 0) {
        conf = argv[1];
        first_opt = 2;
    }
    config_setup();
    config_on_change(OPT_LOGLEVEL, apply_loglevel);
    if (config_load(conf, argc - first_opt, argv + first_opt, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (conf != NULL && realpath(conf, server.config_file) == NULL) {
        snprintf(server.config_file, sizeof server.config_file, "%s", conf);
    }
    if (realpath("/proc/self/exe", server.executable) == NULL) {
        snprintf(server.executable, sizeof server.executable, "%s", argv[0]);
    }

    config_str(OPT_DIR, path, sizeof path);
    if (chdir(path) != 0) {
        fprintf(stderr, "Can't chdir to '%s': %s\n", path, strerror(errno));
        return 1;
    }
    config_str(OPT_LOGFILE, logfile, sizeof logfile);
    if (config_num(OPT_DAEMONIZE) && daemonize() < 0) {
        fprintf(stderr, "Can't daemonize: %s\n", strerror(errno));
        return 1;
    }
    if (log_setup(logfile, (enum log_level)config_num(OPT_LOGLEVEL)) < 0) {
        fprintf(stderr, "Can't open the log file '%s': %s\n", logfile, strerror(errno));
        return 1;
    }
    server.pid = getpid();
    server.start_ms = now_ms();
    random_hex_id(server.run_id);
    config_str(OPT_PIDFILE, pidfile, sizeof pidfile);
    if (pidfile[0] != '\0') {
        FILE *f = fopen(pidfile, "w");
        if (f == NULL) {
            log_msg(LOG_WARNING, "Failed to write PID file '%s': %s", pidfile, strerror(errno));
        } else {
            fprintf(f, "%d\n", (int)server.pid);
            fclose(f);
        }
    }

    sc.shards = (unsigned)config_num(OPT_STORE_SHARDS);
    sc.maxmemory = (uint64_t)config_num(OPT_MAXMEMORY);
    sc.policy = (enum store_policy)config_num(OPT_MAXMEMORY_POLICY);
    sc.samples = (unsigned)config_num(OPT_MAXMEMORY_SAMPLES);
    sc.max_value_len = (uint64_t)config_num(OPT_PROTO_MAX_BULK_LEN);
    if (config_num(OPT_CLUSTER_ENABLED)) {
        sc.slot_of = slots_keyslot; /* the slot index: CLUSTER COUNTKEYSINSLOT, rebalancing */
    }
    if (config_num(OPT_DISK_TIER)) {
        /* after chdir(dir): segments live in the working directory. The
         * write queue sits outside maxmemory, so it scales with it. */
        uint64_t q = sc.maxmemory / 4;
        struct tier_config tc = {
            .dir = ".",
            .max_bytes = (uint64_t)config_num(OPT_DISK_MAX_BYTES),
            .segment_size = (uint64_t)config_num(OPT_SEGMENT_SIZE),
            .level = (int)config_num(OPT_DISK_COMPRESSION),
            .queue_bytes = q < (4u << 20) ? (4u << 20) : q > (64u << 20) ? (64u << 20) : q,
            .slot_of = sc.slot_of,
        };
        struct tier_stats ts;

        tier = tier_create(&tc, now_ms(), tier_log, err, sizeof err);
        if (tier == NULL) {
            log_msg(LOG_WARNING, "Could not start the disk tier: %s", err);
            return 1;
        }
        tier_stats(tier, &ts);
        log_msg(LOG_NOTICE, "Disk tier: %llu keys in %llu segments rebuilt in %llu ms",
                (unsigned long long)ts.index_entries, (unsigned long long)ts.segments,
                (unsigned long long)ts.rebuild_ms);
        sc.tier = tier;
    }
    server.store = store_create(&sc);
    if (server.store == NULL) {
        log_msg(LOG_WARNING, "Could not create the store");
        tier_destroy(&tier);
        return 1;
    }
    config_on_change(OPT_MAXMEMORY, apply_store);
    config_on_change(OPT_MAXMEMORY_POLICY, apply_store);
    config_on_change(OPT_MAXMEMORY_SAMPLES, apply_store);
    config_on_change(OPT_PROTO_MAX_BULK_LEN, apply_store);
    commands_setup();

    if (net_setup() < 0 || cluster_setup() < 0 || memcache_setup() < 0) {
        net_teardown();
        cluster_teardown();
        store_destroy(&server.store);
        tier_destroy(&tier);
        return 1;
    }
    log_msg(LOG_NOTICE, "ringcache %s started, pid=%d, port=%lld, %d worker threads",
            RINGCACHE_VERSION, (int)server.pid, config_num(OPT_PORT), server.nworkers);
    log_msg(LOG_NOTICE, "Ready to accept connections tcp");
    net_run();

    log_msg(LOG_WARNING, "ringcache is now ready to exit, bye bye...");
    net_teardown();
    cluster_teardown();
    if (tier != NULL) {
        /* SHUTDOWN and SIGTERM both end here, with the workers stopped:
         * memory goes to disk so a restart serves every key */
        log_msg(LOG_NOTICE, "Writing the memory tier to disk...");
        store_spill(server.store);
    }
    store_destroy(&server.store);
    tier_destroy(&tier);
    slowlog_teardown();
    if (pidfile[0] != '\0') {
        unlink(pidfile);
    }
    config_teardown();
    log_teardown();
    return 0;
}

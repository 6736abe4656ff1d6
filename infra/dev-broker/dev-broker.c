/*
 * dev-broker: a Kafka-protocol DEVELOPMENT broker built from librdkafka's
 * in-process mock cluster (rdkafka_mock.h).
 *
 * THIS IS AN IN-MEMORY DEVELOPMENT STAND-IN, NOT KAFKA.
 *   - All data (topics, records, committed offsets) lives in this process's
 *     memory and is lost when it exits. Production runs Apache Kafka.
 *   - It speaks enough of the Kafka protocol for librdkafka's own test-suite:
 *     Produce (incl. compressed record batches), Fetch, ListOffsets, Metadata,
 *     FindCoordinator, JoinGroup/SyncGroup/Heartbeat/LeaveGroup,
 *     OffsetCommit/OffsetFetch, InitProducerId and the transactional APIs.
 *   - kafkajs features that do NOT work against it: admin.createTopics()
 *     (there is no CreateTopics API, so topics are created by this program,
 *     via --topic or the `create-topic` control command), and
 *     admin.describeGroups() (no DescribeGroups API). Other admin APIs that
 *     are absent from the mock (deleteTopics, createPartitions, describeConfigs,
 *     listGroups, ...) fail the same way. Metadata requests may auto-create
 *     unknown topics with the mock's defaults, so create topics up front.
 *   - Replication is simulated: "replicas" are bookkeeping only; all data of
 *     a partition is held once, by the process.
 *
 * Usage:
 *   dev-broker --state-dir DIR [--brokers N] [--topic NAME:PARTITIONS:RF]...
 *              [--log-level 0-7]
 *
 * On start-up it writes, each atomically (tmp file + rename):
 *   DIR/dev-broker.pid   this process id
 *   DIR/control          the TCP port of the control listener (127.0.0.1)
 *   DIR/bootstrap        the bootstrap servers string -- written LAST, so a
 *                        watcher that waits for it knows everything is ready
 *
 * Control protocol (line based, over TCP on 127.0.0.1:<control port>; any
 * number of commands per connection, each answered with exactly one line
 * beginning with "ok" or "error <reason>"):
 *   ping                                  -> ok pong
 *   brokers                               -> ok 1 2 3
 *   bootstrap                             -> ok <bootstrap servers>
 *   down <id> | up <id>                   -> ok
 *   rtt <id> <ms>                         -> ok          (0 clears)
 *   leader <topic> <partition> <id>       -> ok          (id -1: no leader)
 *   create-topic <name> <partitions> <rf> -> ok          (rf clamped to N)
 *   topics                                -> ok reviews:6 predictions:6 ...
 *   coordinator <group|transaction> <key> <id> -> ok  (pin a coordinator)
 *   quit                                  -> ok bye, then the server closes
 *
 * SIGTERM / SIGINT: destroy the mock cluster, remove the three state files,
 * exit 0.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define PROG "dev-broker"
#define MAX_BROKERS 32
#define MAX_PARTITIONS 10000
#define MAX_TOPIC_LEN 249
#define MAX_CLIENTS 64
#define MAX_LINE 1024
#define MAX_REPLY 8192
#define MAX_INIT_TOPICS 256

struct topic_spec {
        const char *name;
        int partitions;
        int replication;
};

struct client {
        int fd;
        size_t len;
        char buf[MAX_LINE];
};

static rd_kafka_mock_cluster_t *g_mcluster;
static rd_kafka_t *g_probe; /* client of the mock cluster, for Metadata */
static int g_log_level = 3;
static int g_brokers = 3;
static char g_bootstrap[4096];
static int g_sigpipe[2] = {-1, -1};
static volatile sig_atomic_t g_stop_signal;

/* ------------------------------------------------------------------------ */
/* logging                                                                  */

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...) {
        char line[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        fprintf(stderr, PROG ": %s\n", line);
        fflush(stderr);
}

static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        fprintf(stderr,
                PROG ": error: %s\n"
                "usage: " PROG " --state-dir DIR [--brokers N (1-%d, default 3)]\n"
                "       [--topic NAME:PARTITIONS:REPLICATION]... [--log-level 0-7]\n",
                line, MAX_BROKERS);
        exit(2);
}

static void rdk_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                       const char *buf) {
        (void)rk;
        fprintf(stderr, PROG ": rdkafka[%d] %s: %s\n", level, fac, buf);
}

/* ------------------------------------------------------------------------ */
/* parsing helpers                                                          */

/* Parses a full decimal integer in [min,max]; returns 0 on success. */
static int parse_int(const char *s, long min, long max, int *out) {
        char *end;
        long v;
        if (!s || !*s)
                return -1;
        errno = 0;
        v     = strtol(s, &end, 10);
        if (errno || *end != '\0' || v < min || v > max)
                return -1;
        *out = (int)v;
        return 0;
}

static int valid_topic_name(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > MAX_TOPIC_LEN || !strcmp(s, ".") || !strcmp(s, ".."))
                return 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!(isalnum(c) || c == '.' || c == '_' || c == '-'))
                        return 0;
        }
        return 1;
}

/* ------------------------------------------------------------------------ */
/* state files                                                              */

static char g_state_dir[PATH_MAX];

static void state_path(char *dst, size_t dstsz, const char *name) {
        int n = snprintf(dst, dstsz, "%s/%s", g_state_dir, name);
        if (n < 0 || (size_t)n >= dstsz) {
                logmsg("state path too long: %s/%s", g_state_dir, name);
                exit(1);
        }
}

static int mkdir_p(const char *path) {
        char tmp[PATH_MAX];
        size_t n = strlen(path);
        if (n == 0 || n >= sizeof(tmp))
                return -1;
        memcpy(tmp, path, n + 1);
        for (char *p = tmp + 1; *p; p++) {
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(tmp, 0755) == -1 && errno != EEXIST)
                                return -1;
                        *p = '/';
                }
        }
        if (mkdir(tmp, 0755) == -1 && errno != EEXIST)
                return -1;
        struct stat st;
        if (stat(tmp, &st) == -1 || !S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return -1;
        }
        return 0;
}

/* Writes DIR/name atomically: DIR/.name.tmp.PID, fsync, rename. */
static int write_state_file(const char *name, const char *content) {
        char final[PATH_MAX], tmpname[PATH_MAX + 64], base[128];
        snprintf(base, sizeof(base), ".%s.tmp.%ld", name, (long)getpid());
        state_path(final, sizeof(final), name);
        state_path(tmpname, sizeof(tmpname), base);

        int fd = open(tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd == -1) {
                logmsg("cannot create %s: %s", tmpname, strerror(errno));
                return -1;
        }
        size_t len = strlen(content), off = 0;
        while (off < len) {
                ssize_t w = write(fd, content + off, len - off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        logmsg("cannot write %s: %s", tmpname, strerror(errno));
                        close(fd);
                        unlink(tmpname);
                        return -1;
                }
                off += (size_t)w;
        }
        if (fsync(fd) == -1 || close(fd) == -1) {
                logmsg("cannot flush %s: %s", tmpname, strerror(errno));
                unlink(tmpname);
                return -1;
        }
        if (rename(tmpname, final) == -1) {
                logmsg("cannot rename %s -> %s: %s", tmpname, final,
                       strerror(errno));
                unlink(tmpname);
                return -1;
        }
        return 0;
}

static void remove_state_file(const char *name) {
        char p[PATH_MAX];
        state_path(p, sizeof(p), name);
        if (unlink(p) == -1 && errno != ENOENT)
                logmsg("cannot remove %s: %s", p, strerror(errno));
}

/* Refuses to start if DIR/dev-broker.pid names a live dev-broker process. */
static void check_existing_instance(void) {
        char p[PATH_MAX], buf[64];
        state_path(p, sizeof(p), "dev-broker.pid");
        FILE *f = fopen(p, "r");
        if (!f)
                return;
        int pid = 0;
        int ok  = fgets(buf, sizeof(buf), f) != NULL;
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!ok || parse_int(buf, 1, INT_MAX, &pid) != 0 || pid == getpid())
                return;
        if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
                return; /* stale */
        char commp[64], comm[64] = "";
        snprintf(commp, sizeof(commp), "/proc/%d/comm", pid);
        f = fopen(commp, "r");
        if (f) {
                if (!fgets(comm, sizeof(comm), f))
                        comm[0] = '\0';
                fclose(f);
        }
        if (strncmp(comm, PROG, strlen(PROG)) == 0) {
                logmsg("another dev-broker (pid %d) already uses state dir %s",
                       pid, g_state_dir);
                exit(1);
        }
}

/* ------------------------------------------------------------------------ */
/* signals                                                                  */

static void on_signal(int sig) {
        int saved = errno;
        g_stop_signal = sig;
        char c = 1;
        ssize_t r = write(g_sigpipe[1], &c, 1);
        (void)r;
        errno = saved;
}

static int set_nonblock_cloexec(int fd) {
        int fl = fcntl(fd, F_GETFL);
        if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
                return -1;
        int fdfl = fcntl(fd, F_GETFD);
        if (fdfl == -1 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) == -1)
                return -1;
        return 0;
}

/* ------------------------------------------------------------------------ */
/* mock cluster operations                                                  */

static int create_topic(const char *name, int partitions, int replication,
                        char *err, size_t errsz) {
        if (!valid_topic_name(name)) {
                snprintf(err, errsz, "invalid topic name '%s'", name);
                return -1;
        }
        if (partitions < 1 || partitions > MAX_PARTITIONS) {
                snprintf(err, errsz, "partitions must be 1-%d", MAX_PARTITIONS);
                return -1;
        }
        if (replication < 1) {
                snprintf(err, errsz, "replication must be >= 1");
                return -1;
        }
        if (replication > g_brokers) {
                logmsg("warning: topic %s: replication %d exceeds broker "
                       "count %d, clamping to %d",
                       name, replication, g_brokers, g_brokers);
                replication = g_brokers;
        }
        rd_kafka_resp_err_t e =
            rd_kafka_mock_topic_create(g_mcluster, name, partitions, replication);
        if (e) {
                snprintf(err, errsz, "%s", rd_kafka_err2name(e));
                return -1;
        }
        logmsg("created topic %s (partitions=%d, replication=%d)", name,
               partitions, replication);
        return 0;
}

/* Metadata probe: the mock has no public "does topic exist" call, and
 * rd_kafka_mock_partition_set_leader() silently auto-creates unknown topics,
 * so we ask the cluster itself (Metadata for all topics never auto-creates).
 * Returns the metadata (caller frees) or NULL with err filled in. */
static const rd_kafka_metadata_t *probe_metadata(char *err, size_t errsz) {
        if (!g_probe) {
                char errstr[512], lvl[8];
                rd_kafka_conf_t *conf = rd_kafka_conf_new();
                snprintf(lvl, sizeof(lvl), "%d", g_log_level);
                if (rd_kafka_conf_set(conf, "bootstrap.servers", g_bootstrap,
                                      errstr, sizeof(errstr)) ||
                    rd_kafka_conf_set(conf, "client.id", PROG "-probe", errstr,
                                      sizeof(errstr)) ||
                    rd_kafka_conf_set(conf, "log_level", lvl, errstr,
                                      sizeof(errstr))) {
                        rd_kafka_conf_destroy(conf);
                        snprintf(err, errsz, "probe config: %.200s", errstr);
                        return NULL;
                }
                rd_kafka_conf_set_log_cb(conf, rdk_log_cb);
                g_probe = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                       sizeof(errstr));
                if (!g_probe) {
                        snprintf(err, errsz, "probe client: %.200s", errstr);
                        return NULL;
                }
        }
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(g_probe, 1, NULL, &md, 3000);
        if (e) {
                snprintf(err, errsz, "metadata unavailable: %s",
                         rd_kafka_err2name(e));
                return NULL;
        }
        return md;
}

/* 1: exists, 0: does not exist, -1: could not tell (err filled in). */
static int topic_exists(const char *name, char *err, size_t errsz) {
        const rd_kafka_metadata_t *md = probe_metadata(err, errsz);
        if (!md)
                return -1;
        int found = 0;
        for (int i = 0; i < md->topic_cnt && !found; i++)
                found = !strcmp(md->topics[i].topic, name);
        rd_kafka_metadata_destroy(md);
        return found;
}

/* ------------------------------------------------------------------------ */
/* control protocol                                                         */

#define MAX_ARGS 8

static int split_args(char *line, char **argv) {
        int argc = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, " \t", &save); tok;
             tok       = strtok_r(NULL, " \t", &save)) {
                if (argc == MAX_ARGS)
                        return -1;
                argv[argc++] = tok;
        }
        return argc;
}

/* Executes one command line; writes the reply (without newline) into out.
 * Returns 1 if the connection should be closed after replying. */
static int handle_command(char *line, char *out, size_t outsz) {
        char *argv[MAX_ARGS];
        char logline[MAX_LINE];
        snprintf(logline, sizeof(logline), "%s", line);
        int argc = split_args(line, argv);
        int close_after = 0;
        int id, a, b, exists;
        char err[256];
        rd_kafka_resp_err_t e;

        if (argc < 0) {
                snprintf(out, outsz, "error too many arguments");
        } else if (argc == 0) {
                snprintf(out, outsz, "error empty command");
        } else if (!strcmp(argv[0], "ping")) {
                if (argc != 1)
                        snprintf(out, outsz, "error usage: ping");
                else
                        snprintf(out, outsz, "ok pong");
        } else if (!strcmp(argv[0], "brokers")) {
                if (argc != 1) {
                        snprintf(out, outsz, "error usage: brokers");
                } else {
                        size_t off = (size_t)snprintf(out, outsz, "ok");
                        for (int i = 1; i <= g_brokers && off < outsz; i++)
                                off += (size_t)snprintf(out + off, outsz - off,
                                                        " %d", i);
                }
        } else if (!strcmp(argv[0], "bootstrap")) {
                if (argc != 1)
                        snprintf(out, outsz, "error usage: bootstrap");
                else
                        snprintf(out, outsz, "ok %s", g_bootstrap);
        } else if (!strcmp(argv[0], "down") || !strcmp(argv[0], "up")) {
                int down = argv[0][0] == 'd';
                if (argc != 2 || parse_int(argv[1], 1, g_brokers, &id) != 0) {
                        snprintf(out, outsz,
                                 "error usage: %s <broker id 1-%d>", argv[0],
                                 g_brokers);
                } else {
                        e = down ? rd_kafka_mock_broker_set_down(g_mcluster, id)
                                 : rd_kafka_mock_broker_set_up(g_mcluster, id);
                        if (e)
                                snprintf(out, outsz, "error %s",
                                         rd_kafka_err2name(e));
                        else
                                snprintf(out, outsz, "ok");
                }
        } else if (!strcmp(argv[0], "rtt")) {
                if (argc != 3 || parse_int(argv[1], 1, g_brokers, &id) != 0 ||
                    parse_int(argv[2], 0, 3600000, &a) != 0) {
                        snprintf(out, outsz,
                                 "error usage: rtt <broker id 1-%d> <ms 0-3600000>",
                                 g_brokers);
                } else {
                        e = rd_kafka_mock_broker_set_rtt(g_mcluster, id, a);
                        if (e)
                                snprintf(out, outsz, "error %s",
                                         rd_kafka_err2name(e));
                        else
                                snprintf(out, outsz, "ok");
                }
        } else if (!strcmp(argv[0], "leader")) {
                if (argc != 4 || !valid_topic_name(argv[1]) ||
                    parse_int(argv[2], 0, MAX_PARTITIONS - 1, &a) != 0 ||
                    (parse_int(argv[3], -1, g_brokers, &id) != 0 || id == 0)) {
                        snprintf(out, outsz,
                                 "error usage: leader <topic> <partition> "
                                 "<broker id 1-%d, or -1 for none>",
                                 g_brokers);
                } else if ((exists = topic_exists(argv[1], err, sizeof(err))) ==
                           0) {
                        snprintf(out, outsz, "error unknown topic '%s'", argv[1]);
                } else {
                        if (exists < 0)
                                logmsg("warning: cannot verify topic %s (%s); "
                                       "setting leader anyway",
                                       argv[1], err);
                        e = rd_kafka_mock_partition_set_leader(g_mcluster,
                                                               argv[1], a, id);
                        if (e)
                                snprintf(out, outsz, "error %s",
                                         rd_kafka_err2name(e));
                        else
                                snprintf(out, outsz, "ok");
                }
        } else if (!strcmp(argv[0], "coordinator")) {
                if (argc != 4 ||
                    (strcmp(argv[1], "group") && strcmp(argv[1], "transaction")) ||
                    parse_int(argv[3], 1, g_brokers, &id) != 0) {
                        snprintf(out, outsz,
                                 "error usage: coordinator <group|transaction> "
                                 "<key> <broker id 1-%d>",
                                 g_brokers);
                } else {
                        e = rd_kafka_mock_coordinator_set(g_mcluster, argv[1],
                                                          argv[2], id);
                        if (e)
                                snprintf(out, outsz, "error %s",
                                         rd_kafka_err2name(e));
                        else
                                snprintf(out, outsz, "ok");
                }
        } else if (!strcmp(argv[0], "topics")) {
                const rd_kafka_metadata_t *md;
                if (argc != 1) {
                        snprintf(out, outsz, "error usage: topics");
                } else if (!(md = probe_metadata(err, sizeof(err)))) {
                        snprintf(out, outsz, "error %s", err);
                } else {
                        size_t off = (size_t)snprintf(out, outsz, "ok");
                        for (int i = 0; i < md->topic_cnt && off < outsz; i++)
                                off += (size_t)snprintf(
                                    out + off, outsz - off, " %s:%d",
                                    md->topics[i].topic,
                                    md->topics[i].partition_cnt);
                        rd_kafka_metadata_destroy(md);
                }
        } else if (!strcmp(argv[0], "create-topic")) {
                if (argc != 4 ||
                    parse_int(argv[2], 1, MAX_PARTITIONS, &a) != 0 ||
                    parse_int(argv[3], 1, INT_MAX, &b) != 0) {
                        snprintf(out, outsz,
                                 "error usage: create-topic <name> <partitions> "
                                 "<replication>");
                } else if (create_topic(argv[1], a, b, err, sizeof(err)) != 0) {
                        snprintf(out, outsz, "error %s", err);
                } else {
                        snprintf(out, outsz, "ok");
                }
        } else if (!strcmp(argv[0], "quit")) {
                snprintf(out, outsz, "ok bye");
                close_after = 1;
        } else {
                snprintf(out, outsz, "error unknown command '%s'", argv[0]);
        }

        logmsg("control: %s -> %s", logline, out);
        return close_after;
}

/* Sends the whole reply (plus newline). Returns -1 on failure. */
static int send_reply(int fd, const char *reply) {
        char buf[MAX_REPLY + 2];
        int n = snprintf(buf, sizeof(buf), "%s\n", reply);
        if (n < 0)
                return -1;
        size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
        size_t off = 0;
        int spins  = 0;
        while (off < len) {
                ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
                            spins++ < 100) {
                                struct pollfd p = {.fd = fd, .events = POLLOUT};
                                poll(&p, 1, 10);
                                continue;
                        }
                        return -1;
                }
                off += (size_t)w;
        }
        return 0;
}

/* Reads from a client; handles every complete line. Returns -1 to close. */
static int client_readable(struct client *c) {
        for (;;) {
                if (c->len == sizeof(c->buf)) {
                        send_reply(c->fd, "error line too long");
                        logmsg("control: closing client: line too long");
                        return -1;
                }
                ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
                                 0);
                if (r == 0) {
                        /* EOF: a final command without newline still counts. */
                        if (c->len > 0) {
                                char line[MAX_LINE + 1], reply[MAX_REPLY];
                                memcpy(line, c->buf, c->len);
                                line[c->len] = '\0';
                                c->len       = 0;
                                size_t k     = strspn(line, " \t\r");
                                if (line[k] != '\0') {
                                        line[strcspn(line, "\r")] = '\0';
                                        handle_command(line + k, reply,
                                                       sizeof(reply));
                                        send_reply(c->fd, reply);
                                }
                        }
                        return -1;
                }
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        return -1;
                }
                c->len += (size_t)r;

                char *nl;
                while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
                        size_t consumed = (size_t)(nl - c->buf) + 1;
                        size_t linelen  = consumed - 1;
                        char line[MAX_LINE + 1];
                        memcpy(line, c->buf, linelen);
                        line[linelen] = '\0';
                        memmove(c->buf, c->buf + consumed, c->len - consumed);
                        c->len -= consumed;
                        if (linelen > 0 && line[linelen - 1] == '\r')
                                line[--linelen] = '\0';

                        /* Skip blank lines: they are not commands. */
                        size_t k = 0;
                        while (line[k] == ' ' || line[k] == '\t')
                                k++;
                        if (line[k] == '\0')
                                continue;

                        char reply[MAX_REPLY];
                        int close_after =
                            handle_command(line + k, reply, sizeof(reply));
                        if (send_reply(c->fd, reply) != 0 || close_after)
                                return -1;
                }
        }
}

static int open_control_listener(int *port_out) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd == -1)
                return -1;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family      = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin.sin_port        = 0;
        if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
            listen(fd, 16) == -1 || set_nonblock_cloexec(fd) == -1) {
                close(fd);
                return -1;
        }
        socklen_t sl = sizeof(sin);
        if (getsockname(fd, (struct sockaddr *)&sin, &sl) == -1) {
                close(fd);
                return -1;
        }
        *port_out = ntohs(sin.sin_port);
        return fd;
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
        const char *state_dir = NULL;
        struct topic_spec topics[MAX_INIT_TOPICS];
        int topic_cnt = 0;
        int log_level = 3;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *val = NULL;
                const char *eq  = strchr(a, '=');
                char opt[32];
                if (!strncmp(a, "--", 2) && eq && (size_t)(eq - a) < sizeof(opt)) {
                        memcpy(opt, a, (size_t)(eq - a));
                        opt[eq - a] = '\0';
                        val         = eq + 1;
                        a           = opt;
                }
                if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                        printf("usage: " PROG " --state-dir DIR [--brokers N] "
                               "[--topic NAME:PARTITIONS:REPLICATION]... "
                               "[--log-level 0-7]\n");
                        return 0;
                }
                int takes = !strcmp(a, "--state-dir") || !strcmp(a, "--brokers") ||
                            !strcmp(a, "--topic") || !strcmp(a, "--log-level");
                if (!takes)
                        usage_error("unknown argument '%s'", argv[i]);
                if (!val) {
                        if (i + 1 >= argc)
                                usage_error("%s requires a value", a);
                        val = argv[++i];
                }
                if (!strcmp(a, "--state-dir")) {
                        if (!*val)
                                usage_error("--state-dir must not be empty");
                        state_dir = val;
                } else if (!strcmp(a, "--brokers")) {
                        if (parse_int(val, 1, MAX_BROKERS, &g_brokers) != 0)
                                usage_error("--brokers must be an integer 1-%d, "
                                            "got '%s'",
                                            MAX_BROKERS, val);
                } else if (!strcmp(a, "--log-level")) {
                        if (parse_int(val, 0, 7, &log_level) != 0)
                                usage_error("--log-level must be 0-7, got '%s'",
                                            val);
                } else { /* --topic */
                        if (topic_cnt == MAX_INIT_TOPICS)
                                usage_error("too many --topic options (max %d)",
                                            MAX_INIT_TOPICS);
                        char *spec = strdup(val);
                        if (!spec) {
                                perror(PROG);
                                return 1;
                        }
                        char *c1 = strchr(spec, ':');
                        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                        if (!c1 || !c2)
                                usage_error("--topic must be NAME:PARTITIONS:"
                                            "REPLICATION, got '%s'",
                                            val);
                        *c1 = '\0';
                        *c2 = '\0';
                        struct topic_spec *t = &topics[topic_cnt];
                        t->name = spec;
                        if (!valid_topic_name(spec))
                                usage_error("--topic '%s': invalid topic name "
                                            "(1-%d chars of [A-Za-z0-9._-])",
                                            val, MAX_TOPIC_LEN);
                        if (parse_int(c1 + 1, 1, MAX_PARTITIONS, &t->partitions))
                                usage_error("--topic '%s': partitions must be "
                                            "an integer 1-%d",
                                            val, MAX_PARTITIONS);
                        if (parse_int(c2 + 1, 1, INT_MAX, &t->replication))
                                usage_error("--topic '%s': replication must be "
                                            "a positive integer",
                                            val);
                        for (int k = 0; k < topic_cnt; k++)
                                if (!strcmp(topics[k].name, spec))
                                        usage_error("--topic '%s' given twice",
                                                    spec);
                        topic_cnt++;
                }
        }
        if (!state_dir)
                usage_error("--state-dir is required");
        if (strlen(state_dir) >= sizeof(g_state_dir) - 64)
                usage_error("--state-dir path too long");
        snprintf(g_state_dir, sizeof(g_state_dir), "%s", state_dir);

        if (mkdir_p(g_state_dir) == -1) {
                logmsg("cannot create state dir %s: %s", g_state_dir,
                       strerror(errno));
                return 1;
        }
        check_existing_instance();
        /* A stale bootstrap file would tell watchers we are ready: drop it. */
        remove_state_file("bootstrap");

        /* Signals: self-pipe, so the poll loop wakes up wherever the signal
         * is delivered (librdkafka threads included). */
        if (pipe(g_sigpipe) == -1 || set_nonblock_cloexec(g_sigpipe[0]) == -1 ||
            set_nonblock_cloexec(g_sigpipe[1]) == -1) {
                logmsg("pipe: %s", strerror(errno));
                return 1;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* librdkafka handle that owns the mock cluster. */
        char errstr[512], lvl[8];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        g_log_level = log_level;
        snprintf(lvl, sizeof(lvl), "%d", log_level);
        if (rd_kafka_conf_set(conf, "log_level", lvl, errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "client.id", PROG, errstr, sizeof(errstr))) {
                logmsg("config: %s", errstr);
                return 1;
        }
        rd_kafka_conf_set_log_cb(conf, rdk_log_cb);
        rd_kafka_t *rk =
            rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                logmsg("rd_kafka_new: %s", errstr);
                return 1;
        }
        g_mcluster = rd_kafka_mock_cluster_new(rk, g_brokers);
        if (!g_mcluster) {
                logmsg("rd_kafka_mock_cluster_new failed");
                rd_kafka_destroy(rk);
                return 1;
        }
        snprintf(g_bootstrap, sizeof(g_bootstrap), "%s",
                 rd_kafka_mock_cluster_bootstraps(g_mcluster));

        int rc = 0;
        for (int i = 0; i < topic_cnt; i++) {
                char err[256];
                if (create_topic(topics[i].name, topics[i].partitions,
                                 topics[i].replication, err, sizeof(err)) != 0) {
                        logmsg("cannot create topic %s: %s", topics[i].name, err);
                        rc = 1;
                }
        }

        int port  = 0;
        int lfd   = rc ? -1 : open_control_listener(&port);
        if (!rc && lfd == -1) {
                logmsg("cannot open control listener: %s", strerror(errno));
                rc = 1;
        }

        char buf[64];
        if (!rc) {
                snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
                if (write_state_file("dev-broker.pid", buf) != 0)
                        rc = 1;
        }
        if (!rc) {
                snprintf(buf, sizeof(buf), "%d\n", port);
                if (write_state_file("control", buf) != 0)
                        rc = 1;
        }
        if (!rc) {
                char bs[sizeof(g_bootstrap) + 2];
                snprintf(bs, sizeof(bs), "%s\n", g_bootstrap);
                if (write_state_file("bootstrap", bs) != 0)
                        rc = 1;
        }

        if (!rc)
                logmsg("started: pid=%ld brokers=%d bootstrap=%s control=127.0.0.1:%d "
                       "state-dir=%s topics=%d",
                       (long)getpid(), g_brokers, g_bootstrap, port, g_state_dir,
                       topic_cnt);

        struct client clients[MAX_CLIENTS];
        int nclients = 0;

        while (!rc && !g_stop_signal) {
                struct pollfd pfds[MAX_CLIENTS + 2];
                pfds[0].fd     = g_sigpipe[0];
                pfds[0].events = POLLIN;
                pfds[1].fd     = lfd;
                pfds[1].events = nclients < MAX_CLIENTS ? POLLIN : 0;
                for (int i = 0; i < nclients; i++) {
                        pfds[i + 2].fd     = clients[i].fd;
                        pfds[i + 2].events = POLLIN;
                }
                int n = poll(pfds, (nfds_t)nclients + 2, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        logmsg("poll: %s", strerror(errno));
                        rc = 1;
                        break;
                }
                if (pfds[0].revents)
                        break; /* signal */

                /* Clients first (indices are stable until we compact). */
                for (int i = nclients - 1; i >= 0; i--) {
                        short re = pfds[i + 2].revents;
                        if (!re)
                                continue;
                        if (client_readable(&clients[i]) != 0) {
                                close(clients[i].fd);
                                clients[i] = clients[nclients - 1];
                                nclients--;
                        }
                }

                if (pfds[1].revents & POLLIN) {
                        for (;;) {
                                if (nclients == MAX_CLIENTS)
                                        break;
                                int cfd = accept4(lfd, NULL, NULL,
                                                  SOCK_NONBLOCK | SOCK_CLOEXEC);
                                if (cfd == -1)
                                        break;
                                clients[nclients].fd  = cfd;
                                clients[nclients].len = 0;
                                nclients++;
                        }
                }
        }

        if (g_stop_signal)
                logmsg("stopping on %s", strsignal(g_stop_signal));
        else if (rc)
                logmsg("stopping after error");

        for (int i = 0; i < nclients; i++)
                close(clients[i].fd);
        if (lfd != -1)
                close(lfd);

        /* Remove bootstrap first: watchers must not see a dead cluster. */
        remove_state_file("bootstrap");
        remove_state_file("control");
        remove_state_file("dev-broker.pid");

        if (g_probe)
                rd_kafka_destroy(g_probe);
        rd_kafka_mock_cluster_destroy(g_mcluster);
        rd_kafka_destroy(rk);

        for (int i = 0; i < topic_cnt; i++)
                free((char *)topics[i].name);

        logmsg("stopped");
        return rc;
}

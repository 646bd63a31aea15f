/*
 * sysstat.c — what tern-bench reads about processes: the server's CPU time and resident
 * memory from /proc/PID/{stat,status} (the same sources the peers' driver sampled, so
 * figures compare), its own CPU from getrusage, and the open-files limit raised so a run
 * can hold ~19k sockets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int64_t sys_proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    /* Fields after ')': 3 state, 4 ppid, ... 14 utime, 15 stime (1-based over the whole
     * line); after the ')' the state is the 1st token, so utime is the 12th. */
    unsigned long long ut = 0, st = 0;
    int field = 0;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 12)
            ut = strtoull(tok, NULL, 10);
        else if (field == 13) {
            st = strtoull(tok, NULL, 10);
            break;
        }
    }
    if (field < 13)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    return (int64_t)((ut + st) * 1000000ull / (unsigned long long)hz);
}

/* The KiB value of the field key ("VmRSS:") of /proc/PID/status, or -1. */
static int64_t status_kib(int pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int64_t kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            kib = strtoll(line + strlen(key), NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

int64_t sys_proc_rss_kib(int pid)
{
    return status_kib(pid, "VmRSS:");
}

int64_t sys_proc_hwm_kib(int pid)
{
    return status_kib(pid, "VmHWM:");
}

int64_t sys_self_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec + (int64_t)ru.ru_stime.tv_sec * 1000000 +
           ru.ru_stime.tv_usec;
}

long sys_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

int sys_machine_cpu_us(int64_t *busy_us, int64_t *total_us)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[10] = {0};
    char line[512];
    int n = 0;
    if (fgets(line, sizeof line, f) && !strncmp(line, "cpu ", 4)) {
        char *p = line + 4, *end;
        for (; n < 10; n++, p = end) {
            errno = 0;
            v[n] = strtoull(p, &end, 10);
            if (end == p || errno)
                break;
        }
    }
    fclose(f);
    if (n < 4)
        return -1;
    /* user nice system idle iowait irq softirq steal (guest time is inside user). The
     * busy fields are sampled at the scheduler tick, idle (and iowait) are measured
     * exactly by the tickless idle code: a load paced by a 1 ms timer, like ours, can
     * line up with the tick and make the busy sum anything from 2 % to 160 % of the
     * truth. So the total is wall time x CPUs and busy is the total minus idle. */
    unsigned long long idle = v[3] + (n > 4 ? v[4] : 0);
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu <= 0)
        ncpu = 1;
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    int64_t total = ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000) * ncpu;
    *total_us = total;
    *busy_us = total - (int64_t)(idle * 1000000ull / (unsigned long long)hz);
    return 0;
}


/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn-bench: the in-process engine driver behind bench/engine/run, linked
 * with build/libsfn.a only, so its memory is the engine's.
 *
 *   sfn-bench [--seconds S] [--warmup S] [--count N] [--items N]
 *             [--no-history | --formatted] pass|params|map
 *   sfn-bench [options] --file CASE.json jsonata
 *
 * Runs executions for S seconds after S of warm-up (0.5 by default), or
 * exactly N with no warm-up (for profilers), and prints one line:
 * "case=... history=on|formatted|off execs=... events_per_exec=...
 * seconds=... cpu_seconds=... exec_per_s=... exec_per_cpu_s=...
 * transitions_per_s=... peak_rss_kb=...": rates per second of wall clock
 * and per second of this thread's CPU time.  History events are built and kept by default, as
 * aws-local-stepfunctions always builds and keeps them; --formatted also
 * prints each, --no-history runs with no event callback.  The definitions
 * are the ones bench/engine/node-driver.js gives aws-local-stepfunctions;
 * the jsonata case's definition and input are CASE.json's ("definition",
 * "input"), which node-driver.js evaluates with jsonata-js.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "sfn_engine.h"


/*
 * An event the host keeps, as aws-local-stepfunctions allocates an object
 * for each and queues it: ours are allocated SFN_BENCH_BLOCK at a time and
 * chained in order, all freed with the execution's history.
 */
#define SFN_BENCH_BLOCK  8

typedef struct {
    int64_t               id;
    int64_t               previous_id;
    int64_t               timestamp_ms;
    const char           *type;
    const char           *name;
    size_t                index;
    sfn_payload_t        *payload;    /* held */
} sfn_bench_event_t;


typedef struct sfn_bench_block_s  sfn_bench_block_t;

struct sfn_bench_block_s {
    sfn_bench_block_t    *next;
    size_t                n;
    sfn_bench_event_t     events[SFN_BENCH_BLOCK];
};


typedef struct {
    sfn_bench_block_t    *head;       /* the execution's history */
    sfn_bench_block_t    *tail;
    size_t                nevents;
    uint64_t              total;
    const char           *role_arn;   /* the executions' */
    int                   formatted;
    int                   failed;
} sfn_bench_t;


/* the wall clock, read for every timestamp as the reference's Date.now() */
static int64_t
sfn_bench_now(void *data)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
sfn_bench_random(void *data, void *buf, size_t len)
{
    memset(buf, 0x5a, len);
}


static int
sfn_bench_run_task(void *data, sfn_exec_t *e, const sfn_task_req_t *t)
{
    return SFN_ERROR;
}


static void
sfn_bench_cancel_task(void *data, sfn_exec_t *e, uint64_t id)
{
}


static int
sfn_bench_arm_timer(void *data, sfn_exec_t *e, uint64_t id, int64_t due)
{
    return SFN_ERROR;
}


static void
sfn_bench_cancel_timer(void *data, sfn_exec_t *e, uint64_t id)
{
}


/*
 * History on: the host keeps every event of the execution in a list, its
 * payload held (shared with the engine, not copied), as
 * aws-local-stepfunctions keeps its event objects in its logger's queue
 * for as long as the execution lives.  Nothing is formatted unless
 * --formatted, which prints each kept event's AWS details once the
 * execution is over, as a host writing the history would.
 */

static void
sfn_bench_event(void *data, sfn_exec_t *e, const sfn_event_t *ev)
{
    char               *s;
    sfn_bench_t        *b;
    sfn_bench_block_t  *bl;
    sfn_bench_event_t  *k;

    b = data;
    bl = b->tail;

    if (bl == NULL || bl->n == SFN_BENCH_BLOCK) {
        bl = malloc(sizeof(sfn_bench_block_t));
        if (bl == NULL) {
            b->failed = 1;
            return;
        }

        bl->next = NULL;
        bl->n = 0;

        if (b->tail) {
            b->tail->next = bl;
        } else {
            b->head = bl;
        }

        b->tail = bl;
    }

    k = &bl->events[bl->n++];
    b->nevents++;

    k->id = ev->id;
    k->previous_id = ev->previous_id;
    k->timestamp_ms = ev->timestamp_ms;
    k->type = ev->type;
    k->name = ev->name;
    k->index = ev->index;
    k->payload = sfn_event_hold(ev);

    if (ev->details) {
        /* details built by the engine live for the callback only */
        k->name = NULL;

        if (b->formatted) {
            s = sfn_json_print(ev->details);
            if (s == NULL) {
                b->failed = 1;
            }
            free(s);
        }
    }
}


/* the execution is over: format its history if asked, then drop it */
static int
sfn_bench_history_done(sfn_bench_t *b)
{
    char               *s;
    size_t              i;
    cJSON              *d;
    sfn_event_t         ev;
    sfn_bench_block_t  *bl, *next;
    sfn_bench_event_t  *k;

    for (bl = b->head; bl; bl = next) {
        next = bl->next;

        for (i = 0; i < bl->n; i++) {
            k = &bl->events[i];

            if (!b->formatted) {
                sfn_payload_release(k->payload);
                continue;
            }

            if (k->name == NULL && k->payload == NULL) {
                /* formatted in the callback, or nothing to format */
                continue;
            }

            memset(&ev, 0, sizeof(sfn_event_t));
            ev.id = k->id;
            ev.previous_id = k->previous_id;
            ev.timestamp_ms = k->timestamp_ms;
            ev.type = k->type;
            ev.name = k->name;
            ev.index = k->index;
            ev.role_arn = b->role_arn;
            ev.payload = k->payload ? sfn_payload_json(k->payload) : NULL;

            d = sfn_event_details(&ev);
            s = d ? sfn_json_print(d) : NULL;
            if (s == NULL) {
                b->failed = 1;
            }
            free(s);
            cJSON_Delete(d);
            sfn_payload_release(k->payload);
        }

        free(bl);
    }

    b->total += b->nevents;
    b->nevents = 0;
    b->head = NULL;
    b->tail = NULL;

    return b->failed ? -1 : 0;
}


static double
sfn_bench_clock(clockid_t id)
{
    struct timespec  ts;

    clock_gettime(id, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* a case from a file: {"definition": {...}, "input": ...} */
static char *
sfn_bench_file(const char *file, char **input, long *transitions)
{
    long          n;
    char         *text, *def;
    FILE         *f;
    cJSON        *j, *d, *st;
    const cJSON  *c;

    f = fopen(file, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    text = malloc(n + 1);
    if (text == NULL || fread(text, 1, n, f) != (size_t) n) {
        free(text);
        fclose(f);
        return NULL;
    }

    fclose(f);
    text[n] = '\0';

    j = sfn_json_parse(text, n);
    free(text);

    d = cJSON_GetObjectItemCaseSensitive(j, "definition");
    if (d == NULL || cJSON_GetObjectItemCaseSensitive(j, "input") == NULL) {
        cJSON_Delete(j);
        return NULL;
    }

    def = sfn_json_print(d);
    *input = sfn_json_print(cJSON_GetObjectItemCaseSensitive(j, "input"));

    /* a chain: one transition per state */
    *transitions = 0;
    st = cJSON_GetObjectItemCaseSensitive(d, "States");
    cJSON_ArrayForEach(c, st) {
        (*transitions)++;
    }

    cJSON_Delete(j);

    return def;
}


static char *
sfn_bench_definition(const char *name, long items, char **input,
    long *transitions)
{
    int    i;
    char  *def, *in, *p;
    size_t cap;

    cap = 1 << 16;
    def = malloc(cap);
    if (def == NULL) {
        return NULL;
    }

    p = def;

    if (strcmp(name, "pass") == 0 || strcmp(name, "params") == 0) {
        p += sprintf(p, "{\"StartAt\":\"S0\",\"States\":{");

        for (i = 0; i < 10; i++) {
            p += sprintf(p, "%s\"S%d\":{\"Type\":\"Pass\",", i ? "," : "",
                         i);

            if (name[1] == 'a' && name[2] == 'r') {
                p += sprintf(p,
                    "\"Parameters\":{\"step\":%d,\"id.$\":\"$.id\","
                    "\"msg.$\":\"States.Format('step {} of {} for {}', "
                    "$.id, $.name, $.payload.kind)\"},"
                    "\"ResultPath\":\"$.last\",", i);
            }

            if (i < 9) {
                p += sprintf(p, "\"Next\":\"S%d\"}", i + 1);
            } else {
                p += sprintf(p, "\"End\":true}");
            }
        }

        sprintf(p, "}}");

        *input = strdup("{\"id\":42,\"name\":\"bench\",\"payload\":"
                        "{\"kind\":\"video\",\"sizes\":[1,2,3],"
                        "\"tags\":{\"a\":\"x\",\"b\":\"y\"}}}");
        *transitions = 10;
        return def;
    }

    if (strcmp(name, "map") == 0) {
        sprintf(p, "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\","
                "\"ItemsPath\":\"$.items\",\"ItemProcessor\":{\"StartAt\":"
                "\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}},"
                "\"End\":true}}}");

        in = malloc(items * 12 + 32);
        if (in == NULL) {
            free(def);
            return NULL;
        }

        p = in + sprintf(in, "{\"items\":[");
        for (i = 0; i < items; i++) {
            p += sprintf(p, "%s%d", i ? "," : "", i);
        }
        sprintf(p, "]}");

        *input = in;
        *transitions = items + 1;
        return def;
    }

    free(def);

    return NULL;
}


/* one execution, start to end; -1 on any failure */
static int
sfn_bench_exec(sfn_machine_t *m, sfn_host_t *host, sfn_exec_conf_t *conf,
    const char *input, sfn_bench_t *b)
{
    sfn_exec_t   *e;
    const char   *error, *cause;

    e = sfn_exec_create(m, host, conf, input, strlen(input), &error, &cause);
    if (e == NULL) {
        fprintf(stderr, "sfn-bench: %s: %s\n", error, cause);
        return -1;
    }

    if (sfn_exec_start(e) != SFN_SUCCEEDED) {
        fprintf(stderr, "sfn-bench: execution %s: %s: %s\n",
                sfn_status_name(sfn_exec_status(e)),
                sfn_exec_error(e) ? sfn_exec_error(e) : "",
                sfn_exec_cause(e) ? sfn_exec_cause(e) : "");
        sfn_exec_free(e);
        return -1;
    }

    /* fetched as a host would: the output is printed on demand */
    if (sfn_exec_output(e) == NULL) {
        fprintf(stderr, "sfn-bench: no output\n");
        sfn_exec_free(e);
        return -1;
    }

    /* the kept events outlive the execution, as the reference's do */
    sfn_exec_free(e);

    if (sfn_bench_history_done(b) != 0) {
        fprintf(stderr, "sfn-bench: history: out of memory\n");
        return -1;
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int               i, history, formatted;
    long              items, execs, count, transitions;
    char             *def, *input;
    double            seconds, warmup, t0, t, c0, cpu;
    uint64_t          events;
    const char       *name, *file;
    sfn_diag_t        d;
    sfn_host_t        host;
    sfn_bench_t       b;
    struct rusage     ru;
    sfn_machine_t    *m;
    sfn_exec_conf_t   conf;

    seconds = 3;
    count = 0;
    warmup = 0.5;
    items = 10000;
    history = 1;
    formatted = 0;
    name = NULL;
    file = NULL;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);

        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = atol(argv[++i]);
            warmup = 0;

        } else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) {
            warmup = atof(argv[++i]);

        } else if (strcmp(argv[i], "--no-history") == 0) {
            history = 0;

        } else if (strcmp(argv[i], "--formatted") == 0) {
            formatted = 1;

        } else if (strcmp(argv[i], "--items") == 0 && i + 1 < argc) {
            items = atol(argv[++i]);

        } else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
            file = argv[++i];

        } else {
            name = argv[i];
        }
    }

    if (name == NULL) {
        fprintf(stderr, "usage: sfn-bench [--seconds S] [--warmup S] "
                "[--items N] [--no-history | --formatted] "
                "pass|params|map | --file CASE.json jsonata\n");
        return 2;
    }

    def = file ? sfn_bench_file(file, &input, &transitions)
               : sfn_bench_definition(name, items, &input, &transitions);
    if (def == NULL) {
        fprintf(stderr, "sfn-bench: unknown case \"%s\"\n", name);
        return 2;
    }

    m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
    if (m == NULL) {
        fprintf(stderr, "sfn-bench: %s: %s\n", d.code, d.message);
        return 1;
    }

    memset(&b, 0, sizeof(sfn_bench_t));
    b.formatted = formatted;

    memset(&host, 0, sizeof(sfn_host_t));
    host.data = &b;
    host.now_ms = sfn_bench_now;
    host.random = sfn_bench_random;
    host.run_task = sfn_bench_run_task;
    host.cancel_task = sfn_bench_cancel_task;
    host.arm_timer = sfn_bench_arm_timer;
    host.cancel_timer = sfn_bench_cancel_timer;
    host.event = history ? sfn_bench_event : NULL;

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.name = "bench";
    conf.arn = "arn:aws:states:us-east-1:000000000000:execution:bench:bench";
    conf.state_machine_name = "bench";
    conf.state_machine_arn =
        "arn:aws:states:us-east-1:000000000000:stateMachine:bench";
    conf.type = SFN_EXPRESS;
    conf.lazy_events = 1;
    b.role_arn = "";

    /* warm-up, not counted: caches and the allocator settle */
    t0 = sfn_bench_clock(CLOCK_MONOTONIC);

    while (sfn_bench_clock(CLOCK_MONOTONIC) - t0 < warmup) {
        if (sfn_bench_exec(m, &host, &conf, input, &b) != 0) {
            return 1;
        }
    }

    execs = 0;
    b.total = 0;
    t0 = sfn_bench_clock(CLOCK_MONOTONIC);
    c0 = sfn_bench_clock(CLOCK_THREAD_CPUTIME_ID);

    do {
        if (sfn_bench_exec(m, &host, &conf, input, &b) != 0) {
            return 1;
        }

        execs++;
        t = sfn_bench_clock(CLOCK_MONOTONIC) - t0;

    } while (count ? execs < count : t < seconds);

    cpu = sfn_bench_clock(CLOCK_THREAD_CPUTIME_ID) - c0;
    events = b.total;

    getrusage(RUSAGE_SELF, &ru);

    printf("case=%s history=%s execs=%ld events_per_exec=%llu "
           "seconds=%.3f cpu_seconds=%.3f exec_per_s=%.1f "
           "exec_per_cpu_s=%.1f transitions_per_s=%.1f peak_rss_kb=%ld\n",
           name, history ? (formatted ? "formatted" : "on") : "off", execs,
           (unsigned long long) (events / execs), t, cpu, execs / t,
           execs / cpu, execs * transitions / t, ru.ru_maxrss);

    sfn_machine_free(m);
    free(def);
    free(input);

    return 0;
}

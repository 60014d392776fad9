
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn: validate and run Amazon States Language state machines without
 * nginx.
 *
 *   sfn validate [--integration ARN]... FILE...
 *   sfn run [--bucket NAME=DIR]... [--history[=FILE]] [--real-time]
 *           [--type STANDARD|EXPRESS] [--name NAME]
 *           [--mock FILE] [--test-case NAME] DEFINITION INPUT
 *   sfn jsonata CASEFILE
 *
 * "validate" knows the built-in tasks; each --integration is the ARN
 * pattern of an sfn_integration rule, whose resources it then knows as
 * nginx -t does with the rules of nginx.conf.
 *
 * "run" prints one JSON object, the conformance runner contract of
 * t/conformance/README.md.  Time is virtual unless --real-time: Wait
 * states, retry back-off and timeouts complete at once while timestamps
 * advance as if they had been waited for.  --test-case runs the test case
 * of the state machine --name in a mock configuration file of Step
 * Functions Local's (--mock, or else the SFN_MOCK_CONFIG environment
 * variable, as Step Functions Local reads it).
 *
 * "jsonata" evaluates one case of the JSONata corpus, the contract of
 * ../shared/jsonata/README.md: {"expr", "data"?, "bindings", "timelimit"?,
 * "depth"?} in, {"result": V}, {"undefined": true} or {"code", "message"}
 * out.
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "sfn_engine.h"
#include "sfn_jsonata.h"
#include "sfn_task.h"
#include "sfn_cli.h"


typedef enum {
    SFN_CLI_ENGINE_TIMER = 0,
    SFN_CLI_TASK_DONE,
    SFN_CLI_TASK_FAIL,
    SFN_CLI_HEARTBEAT
} sfn_cli_kind_e;


typedef struct sfn_cli_timer_s  sfn_cli_timer_t;

struct sfn_cli_timer_s {
    sfn_cli_timer_t      *next;
    uint64_t              id;          /* engine timer or task id */
    int64_t               due;
    uint64_t              seq;
    sfn_cli_kind_e        kind;
    char                 *output;      /* TASK_DONE */
    char                 *error;       /* TASK_FAIL */
    char                 *cause;
    int64_t               every;       /* HEARTBEAT period */
    int64_t               until;
};


typedef struct {
    char                 *name;
    char                 *dir;
} sfn_cli_bucket_t;


typedef struct {
    int64_t               now;
    int                   real_time;
    int64_t               real_base;
    sfn_cli_timer_t      *timers;
    uint64_t              seq;
    FILE                 *history;
    sfn_cli_bucket_t      buckets[32];
    int                   nbuckets;
    volatile int          cancel;
    sfn_exec_t           *exec;
} sfn_cli_t;


static int64_t
sfn_cli_wall_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int64_t
sfn_cli_now(void *data)
{
    sfn_cli_t  *cli;

    cli = data;

    if (cli->real_time) {
        return sfn_cli_wall_ms();
    }

    return cli->now;
}


static void
sfn_cli_random(void *data, void *buf, size_t len)
{
    size_t   n;
    ssize_t  r;

    for (n = 0; n < len; n += r) {
        r = getrandom((char *) buf + n, len - n, 0);
        if (r <= 0) {
            memset((char *) buf + n, 0, len - n);
            return;
        }
    }
}


static void
sfn_cli_timer_add(sfn_cli_t *cli, sfn_cli_timer_t *t)
{
    sfn_cli_timer_t  **pp;

    t->seq = cli->seq++;

    for (pp = &cli->timers; *pp; pp = &(*pp)->next) {
        if ((*pp)->due > t->due) {
            break;
        }
    }

    t->next = *pp;
    *pp = t;
}


static void
sfn_cli_timer_free(sfn_cli_timer_t *t)
{
    free(t->output);
    free(t->error);
    free(t->cause);
    free(t);
}


static void
sfn_cli_timer_remove(sfn_cli_t *cli, uint64_t id, int task)
{
    sfn_cli_timer_t  **pp, *t;

    pp = &cli->timers;

    while ((t = *pp) != NULL) {
        if (t->id == id && ((t->kind == SFN_CLI_ENGINE_TIMER) != task)) {
            *pp = t->next;
            sfn_cli_timer_free(t);
            continue;
        }

        pp = &t->next;
    }
}


static sfn_cli_timer_t *
sfn_cli_timer_new(sfn_cli_t *cli, uint64_t id, int64_t due,
    sfn_cli_kind_e kind)
{
    sfn_cli_timer_t  *t;

    t = calloc(1, sizeof(sfn_cli_timer_t));
    if (t == NULL) {
        return NULL;
    }

    t->id = id;
    t->due = due;
    t->kind = kind;

    return t;
}


static int
sfn_cli_arm_timer(void *data, sfn_exec_t *e, uint64_t id, int64_t due_ms)
{
    sfn_cli_t        *cli;
    sfn_cli_timer_t  *t;

    cli = data;

    sfn_cli_timer_remove(cli, id, 0);

    t = sfn_cli_timer_new(cli, id, due_ms, SFN_CLI_ENGINE_TIMER);
    if (t == NULL) {
        return SFN_ERROR;
    }

    sfn_cli_timer_add(cli, t);

    return SFN_OK;
}


static void
sfn_cli_cancel_timer(void *data, sfn_exec_t *e, uint64_t id)
{
    sfn_cli_timer_remove(data, id, 0);
}


static void
sfn_cli_cancel_task(void *data, sfn_exec_t *e, uint64_t id)
{
    sfn_cli_timer_remove(data, id, 1);
}


static const char *
sfn_cli_bucket_path(void *data, const char *bucket)
{
    int         i;
    sfn_cli_t  *cli;

    cli = data;

    for (i = 0; i < cli->nbuckets; i++) {
        if (strcmp(cli->buckets[i].name, bucket) == 0) {
            return cli->buckets[i].dir;
        }
    }

    return NULL;
}


static const char  *sfn_cli_test_resources[] = {
    "sfn:test:echo",
    "sfn:test:fail",
    "sfn:test:sleep",
    "sfn:test:callback",
    NULL
};


static int
sfn_cli_test_resource(const char *resource)
{
    size_t        len, n;
    const char  **r;

    for (r = sfn_cli_test_resources; *r; r++) {
        n = strlen(*r);
        len = strlen(resource);

        if (strncmp(resource, *r, n) == 0
            && (len == n || strcmp(resource + n, ".sync") == 0
                || strcmp(resource + n, ".waitForTaskToken") == 0))
        {
            return 1;
        }
    }

    return 0;
}


int
sfn_cli_known(void *data, const char *resource)
{
    return sfn_cli_test_resource(resource) || sfn_task_find(resource) != NULL;
}


static const char *
sfn_cli_str(const cJSON *obj, const char *name, const char *dflt)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : dflt;
}


static double
sfn_cli_num(const cJSON *obj, const char *name, double dflt)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}


/*
 * The test resources:
 *   sfn:test:echo      succeeds with its input
 *   sfn:test:fail      fails with the input's Error and Cause
 *   sfn:test:sleep     after "seconds" (virtual) succeeds with "output" or
 *                      its input, or fails with "Error"/"Cause" when set;
 *                      sends a heartbeat every "heartbeat" seconds until
 *                      "heartbeatUntil" seconds
 *   sfn:test:callback  like sleep, but answers through the task token
 */
static int
sfn_cli_test_task(sfn_cli_t *cli, const sfn_task_req_t *t)
{
    char              *out;
    int64_t            now, due;
    const cJSON       *o;
    sfn_cli_timer_t   *tm;

    now = sfn_cli_now(cli);

    if (strncmp(t->resource, "sfn:test:echo", 13) == 0) {
        out = cJSON_PrintUnformatted(t->input);
        tm = sfn_cli_timer_new(cli, t->id, now, SFN_CLI_TASK_DONE);
        if (tm == NULL || out == NULL) {
            free(out);
            free(tm);
            return SFN_ERROR;
        }
        tm->output = out;
        sfn_cli_timer_add(cli, tm);
        return SFN_OK;
    }

    if (strncmp(t->resource, "sfn:test:fail", 13) == 0) {
        tm = sfn_cli_timer_new(cli, t->id, now, SFN_CLI_TASK_FAIL);
        if (tm == NULL) {
            return SFN_ERROR;
        }
        tm->error = strdup(sfn_cli_str(t->input, "Error",
                                       "States.TaskFailed"));
        o = cJSON_GetObjectItemCaseSensitive(t->input, "Cause");
        tm->cause = cJSON_IsString(o) ? strdup(o->valuestring) : NULL;
        sfn_cli_timer_add(cli, tm);
        return SFN_OK;
    }

    due = now + (int64_t) (sfn_cli_num(t->input, "seconds", 0) * 1000);

    if (cJSON_GetObjectItemCaseSensitive(t->input, "Error")) {
        tm = sfn_cli_timer_new(cli, t->id, due, SFN_CLI_TASK_FAIL);
        if (tm == NULL) {
            return SFN_ERROR;
        }
        tm->error = strdup(sfn_cli_str(t->input, "Error", ""));
        o = cJSON_GetObjectItemCaseSensitive(t->input, "Cause");
        tm->cause = cJSON_IsString(o) ? strdup(o->valuestring) : NULL;

    } else {
        o = cJSON_GetObjectItemCaseSensitive(t->input, "output");
        out = cJSON_PrintUnformatted(o ? o : t->input);
        tm = sfn_cli_timer_new(cli, t->id, due, SFN_CLI_TASK_DONE);
        if (tm == NULL || out == NULL) {
            free(out);
            free(tm);
            return SFN_ERROR;
        }
        tm->output = out;
    }

    sfn_cli_timer_add(cli, tm);

    if (sfn_cli_num(t->input, "heartbeat", 0) > 0) {
        tm = sfn_cli_timer_new(cli, t->id, 0, SFN_CLI_HEARTBEAT);
        if (tm == NULL) {
            return SFN_ERROR;
        }
        tm->every = (int64_t) (sfn_cli_num(t->input, "heartbeat", 0) * 1000);
        tm->due = now + tm->every;
        tm->until = now + (int64_t) (sfn_cli_num(t->input, "heartbeatUntil",
                                                 1e9) * 1000);
        sfn_cli_timer_add(cli, tm);
    }

    return SFN_OK;
}


static int
sfn_cli_run_task(void *data, sfn_exec_t *e, const sfn_task_req_t *t)
{
    int               rc;
    char             *out;
    sfn_cli_t        *cli;
    sfn_task_env_t    env;
    sfn_task_call_t   call;
    sfn_cli_timer_t  *tm;

    cli = data;

    if (sfn_cli_test_resource(t->resource)) {
        return sfn_cli_test_task(cli, t);
    }

    memset(&env, 0, sizeof(sfn_task_env_t));
    env.data = cli;
    env.bucket_path = sfn_cli_bucket_path;
    env.cancel = &cli->cancel;
    env.db_conninfo = getenv("SFN_DB_CONNINFO");

    memset(&call, 0, sizeof(sfn_task_call_t));
    call.resource = t->resource;
    call.input = t->input;
    call.token = t->token;
    call.env = &env;

    rc = sfn_task_run(&call);

    if (rc == SFN_TASK_OK) {
        out = call.output ? cJSON_PrintUnformatted(call.output)
                          : strdup("null");
        cJSON_Delete(call.output);

        tm = sfn_cli_timer_new(cli, t->id, sfn_cli_now(cli),
                               SFN_CLI_TASK_DONE);
        if (tm == NULL || out == NULL) {
            free(out);
            free(tm);
            return SFN_ERROR;
        }

        tm->output = out;

    } else {
        tm = sfn_cli_timer_new(cli, t->id, sfn_cli_now(cli),
                               SFN_CLI_TASK_FAIL);
        if (tm == NULL) {
            return SFN_ERROR;
        }

        tm->error = strdup(call.error[0] ? call.error : "States.TaskFailed");
        tm->cause = strdup(call.cause);
    }

    sfn_cli_timer_add(cli, tm);

    return SFN_OK;
}


static void
sfn_cli_event(void *data, sfn_exec_t *e, const sfn_event_t *ev)
{
    char       *s, ts[64];
    cJSON      *o, *c;
    time_t      t;
    struct tm   tm;
    sfn_cli_t  *cli;

    cli = data;

    if (cli->history == NULL) {
        return;
    }

    o = cJSON_CreateObject();
    if (o == NULL) {
        return;
    }

    t = (time_t) (ev->timestamp_ms / 1000);
    gmtime_r(&t, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int) (ev->timestamp_ms % 1000));

    cJSON_AddNumberToObject(o, "id", (double) ev->id);
    cJSON_AddNumberToObject(o, "previousEventId", (double) ev->previous_id);
    cJSON_AddStringToObject(o, "timestamp", ts);
    cJSON_AddStringToObject(o, "type", ev->type);

    if (ev->details && ev->details->child) {
        c = cJSON_Duplicate(ev->details->child, 1);
        if (c) {
            cJSON_AddItemToObject(o, ev->details->child->string, c);
        }
    }

    s = cJSON_PrintUnformatted(o);
    if (s) {
        fprintf(cli->history, "%s\n", s);
        free(s);
    }

    cJSON_Delete(o);
}


static char *
sfn_cli_read(const char *path, size_t *len)
{
    char    *buf, *p;
    size_t   n, cap;
    FILE    *f;

    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    cap = 65536;
    n = 0;
    buf = malloc(cap + 1);

    while (buf) {
        if (n == cap) {
            cap *= 2;
            p = realloc(buf, cap + 1);
            if (p == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
        }

        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) {
            break;
        }
        n += r;
    }

    if (f != stdin) {
        fclose(f);
    }

    if (buf) {
        buf[n] = '\0';
        *len = n;
    }

    return buf;
}


static void
sfn_cli_print_result(const char *status, const char *output,
    const char *error, const char *cause)
{
    char   *s;
    cJSON  *o, *v;

    o = cJSON_CreateObject();
    if (o == NULL) {
        return;
    }

    cJSON_AddStringToObject(o, "status", status);

    if (output) {
        v = cJSON_Parse(output);
        if (v) {
            cJSON_AddItemToObject(o, "output", v);
        }
    }

    if (error) {
        cJSON_AddStringToObject(o, "error", error);
    }

    if (cause) {
        cJSON_AddStringToObject(o, "cause", cause);
    }

    s = cJSON_PrintUnformatted(o);
    if (s) {
        printf("%s\n", s);
        free(s);
    }

    cJSON_Delete(o);
}


static void
sfn_cli_invalid(const sfn_diag_t *d)
{
    char  cause[2048];

    snprintf(cause, sizeof(cause),
             "Invalid State Machine Definition: '%s: %s%s%s'", d->code,
             d->message, d->location[0] ? " at " : "", d->location);

    sfn_cli_print_result("INVALID_DEFINITION", NULL, "InvalidDefinition",
                         cause);
}


static void
sfn_cli_usage(void)
{
    fprintf(stderr,
            "usage: sfn validate [--integration ARN]... FILE...\n"
            "       sfn run [--bucket NAME=DIR]... [--history[=FILE]] "
            "[--real-time]\n"
            "               [--type STANDARD|EXPRESS] [--name NAME]\n"
            "               [--mock FILE] [--test-case NAME] "
            "DEFINITION INPUT\n"
            "       sfn jsonata CASEFILE\n");
}


/* a test resource, a built-in task, or one the --integration rules serve */

static int
sfn_cli_validate_known(void *data, const char *resource)
{
    return sfn_cli_test_resource(resource) || sfn_service_known(data, resource);
}


static int
sfn_cli_validate(int argc, char **argv)
{
    int                  i, rc;
    char                *text;
    size_t               len;
    sfn_diag_t           d;
    const char          *err;
    sfn_machine_t       *m;
    sfn_service_map_t    map;
    sfn_service_rule_t  *rules;

    /* the rules' patterns only: a definition's check never sends */

    rules = calloc(argc > 0 ? argc : 1, sizeof(sfn_service_rule_t));
    if (rules == NULL) {
        fprintf(stderr, "sfn: out of memory\n");
        return 2;
    }

    memset(&map, 0, sizeof(sfn_service_map_t));
    map.rules = rules;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--integration") != 0) {
            break;
        }

        if (i + 1 == argc) {
            sfn_cli_usage();
            free(rules);
            return 2;
        }

        err = sfn_service_pattern_check(argv[++i]);

        if (err) {
            fprintf(stderr, "sfn: --integration \"%s\" %s\n", argv[i], err);
            free(rules);
            return 2;
        }

        rules[map.nrules++].pattern = argv[i];
    }

    if (i == argc) {
        sfn_cli_usage();
        free(rules);
        return 2;
    }

    rc = 0;

    for ( /* void */ ; i < argc; i++) {
        text = sfn_cli_read(argv[i], &len);
        if (text == NULL) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            rc = 1;
            continue;
        }

        m = sfn_machine_load(text, len, sfn_cli_validate_known, &map, &d);
        free(text);

        if (m == NULL) {
            printf("%s: state \"%s\": %s: %s%s%s\n", argv[i],
                   d.state[0] ? d.state : "-", d.code, d.message,
                   d.location[0] ? " at " : "", d.location);
            rc = 1;
            continue;
        }

        printf("%s: valid\n", argv[i]);
        sfn_machine_free(m);
    }

    free(rules);

    return rc;
}


/* the event loop of one execution, on the virtual or the real clock */
static void
sfn_cli_loop(sfn_cli_t *cli, sfn_exec_t *e)
{
    int64_t           wait;
    sfn_cli_timer_t  *t;

    while (sfn_exec_status(e) == SFN_RUNNING && cli->timers) {
        t = cli->timers;
        cli->timers = t->next;

        if (cli->real_time) {
            wait = t->due - sfn_cli_wall_ms();
            if (wait > 0) {
                usleep((useconds_t) (wait * 1000));
            }

        } else if (t->due > cli->now) {
            cli->now = t->due;
        }

        switch (t->kind) {

        case SFN_CLI_ENGINE_TIMER:
            sfn_exec_timer(e, t->id);
            break;

        case SFN_CLI_TASK_DONE:
            sfn_exec_task_succeeded(e, t->id, t->output, strlen(t->output));
            break;

        case SFN_CLI_TASK_FAIL:
            sfn_exec_task_failed(e, t->id, t->error, t->cause);
            break;

        case SFN_CLI_HEARTBEAT:
            sfn_exec_task_heartbeat(e, t->id);
            if (t->due + t->every <= t->until) {
                t->due += t->every;
                sfn_cli_timer_add(cli, t);
                continue;
            }
            break;
        }

        sfn_cli_timer_free(t);
    }
}


/* --test-case: the test case of machine name in the mock file */

static int
sfn_cli_mock(const char *path, const char *name, const char *test_case,
    const sfn_machine_t *m, sfn_mock_t **mock, const sfn_mock_case_t **c)
{
    int    known;
    char  *text, err[1024];
    size_t len;

    if (path == NULL) {
        path = getenv("SFN_MOCK_CONFIG");
    }

    if (path == NULL || *path == '\0') {
        fprintf(stderr, "sfn: --test-case needs --mock FILE or "
                "SFN_MOCK_CONFIG\n");
        return SFN_ERROR;
    }

    text = sfn_cli_read(path, &len);
    if (text == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return SFN_ERROR;
    }

    *mock = sfn_mock_load(text, len, err, sizeof(err));
    free(text);

    if (*mock == NULL) {
        fprintf(stderr, "%s: %s\n", path, err);
        return SFN_ERROR;
    }

    *c = sfn_mock_case(*mock, name, test_case, &known);

    if (*c == NULL) {
        fprintf(stderr, "%s: %s \"%s\" %s\n", path,
                known ? "no test case" : "no state machine",
                known ? test_case : name,
                known ? "for the state machine (--name)"
                      : "(--name) in StateMachines");

    } else if (sfn_mock_check(*c, m, err, sizeof(err)) != SFN_OK) {
        fprintf(stderr, "%s: %s\n", path, err);
        *c = NULL;
    }

    if (*c == NULL) {
        sfn_mock_free(*mock);
        *mock = NULL;
        return SFN_ERROR;
    }

    return SFN_OK;
}


static int
sfn_cli_run(int argc, char **argv)
{
    int               i;
    char             *def, *input, *eq, name[64], arn[256], smarn[256];
    size_t            dlen, ilen;
    sfn_cli_t         cli;
    sfn_diag_t        d;
    sfn_host_t        host;
    const char       *def_path, *in_path, *type, *error, *cause, *sm;
    const char       *mock_path, *test_case;
    sfn_exec_t       *e;
    sfn_mock_t       *mock;
    sfn_machine_t    *m;
    sfn_exec_conf_t   conf;
    sfn_status_e      st;
    unsigned char     rnd[16];

    memset(&cli, 0, sizeof(sfn_cli_t));
    def_path = in_path = NULL;
    mock_path = test_case = NULL;
    mock = NULL;
    type = getenv("ASL_STATE_MACHINE_TYPE");
    sm = "StateMachine";

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--bucket") == 0 && i + 1 < argc) {
            eq = strchr(argv[++i], '=');
            if (eq == NULL || cli.nbuckets == 32) {
                sfn_cli_usage();
                return 2;
            }
            cli.buckets[cli.nbuckets].name = strndup(argv[i], eq - argv[i]);
            cli.buckets[cli.nbuckets].dir = strdup(eq + 1);
            cli.nbuckets++;

        } else if (strcmp(argv[i], "--history") == 0) {
            cli.history = stderr;

        } else if (strncmp(argv[i], "--history=", 10) == 0) {
            cli.history = fopen(argv[i] + 10, "w");
            if (cli.history == NULL) {
                fprintf(stderr, "%s: %s\n", argv[i] + 10, strerror(errno));
                return 2;
            }

        } else if (strcmp(argv[i], "--real-time") == 0) {
            cli.real_time = 1;

        } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            type = argv[++i];

        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            sm = argv[++i];

        } else if (strcmp(argv[i], "--mock") == 0 && i + 1 < argc) {
            mock_path = argv[++i];

        } else if (strcmp(argv[i], "--test-case") == 0 && i + 1 < argc) {
            test_case = argv[++i];

        } else if (def_path == NULL) {
            def_path = argv[i];

        } else if (in_path == NULL) {
            in_path = argv[i];

        } else {
            sfn_cli_usage();
            return 2;
        }
    }

    if (def_path == NULL) {
        sfn_cli_usage();
        return 2;
    }

    def = sfn_cli_read(def_path, &dlen);
    if (def == NULL) {
        fprintf(stderr, "%s: %s\n", def_path, strerror(errno));
        return 2;
    }

    if (in_path) {
        input = sfn_cli_read(in_path, &ilen);
        if (input == NULL) {
            fprintf(stderr, "%s: %s\n", in_path, strerror(errno));
            free(def);
            return 2;
        }

    } else {
        input = strdup("{}");
        ilen = 2;
    }

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.type = (type && strcmp(type, "EXPRESS") == 0) ? SFN_EXPRESS
                                                        : SFN_STANDARD;

    m = sfn_machine_load(def, dlen, sfn_cli_known, NULL, &d);
    free(def);

    if (m == NULL || sfn_machine_check_type(m, conf.type, &d) != SFN_OK) {
        sfn_cli_invalid(&d);
        sfn_machine_free(m);
        free(input);
        return 1;
    }

    if (test_case && sfn_cli_mock(mock_path, sm, test_case, m, &mock,
                                  &conf.mock)
                     != SFN_OK)
    {
        sfn_machine_free(m);
        free(input);
        return 2;
    }

    cli.now = sfn_cli_wall_ms();

    memset(&host, 0, sizeof(sfn_host_t));
    host.data = &cli;
    host.now_ms = sfn_cli_now;
    host.random = sfn_cli_random;
    host.run_task = sfn_cli_run_task;
    host.cancel_task = sfn_cli_cancel_task;
    host.arm_timer = sfn_cli_arm_timer;
    host.cancel_timer = sfn_cli_cancel_timer;
    host.event = cli.history ? sfn_cli_event : NULL;

    sfn_cli_random(NULL, rnd, sizeof(rnd));
    snprintf(name, sizeof(name),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
             (rnd[6] & 0x0f) | 0x40, rnd[7], (rnd[8] & 0x3f) | 0x80, rnd[9],
             rnd[10], rnd[11], rnd[12], rnd[13], rnd[14], rnd[15]);

    snprintf(smarn, sizeof(smarn),
             "arn:aws:states:us-east-1:000000000000:stateMachine:%s", sm);

    if (conf.type == SFN_EXPRESS) {
        snprintf(arn, sizeof(arn),
                 "arn:aws:states:us-east-1:000000000000:express:%s:%s:%s",
                 sm, name, name);
    } else {
        snprintf(arn, sizeof(arn),
                 "arn:aws:states:us-east-1:000000000000:execution:%s:%s",
                 sm, name);
    }

    conf.name = name;
    conf.arn = arn;
    conf.role_arn = "arn:aws:iam::000000000000:role/sfn-local";
    conf.state_machine_name = sm;
    conf.state_machine_arn = smarn;

    e = sfn_exec_create(m, &host, &conf, input, ilen, &error, &cause);
    free(input);

    if (e == NULL) {
        sfn_cli_print_result("FAILED", NULL, error, cause);
        sfn_machine_free(m);
        sfn_mock_free(mock);
        return 1;
    }

    cli.exec = e;

    sfn_exec_start(e);
    sfn_cli_loop(&cli, e);

    st = sfn_exec_status(e);

    if (st == SFN_RUNNING) {
        /* nothing left that could wake it: a callback nobody will send */
        sfn_exec_stop(e, "States.Runtime", "the execution waits for a task "
                      "token callback that the sfn tool cannot send");
        st = sfn_exec_status(e);
    }

    sfn_cli_print_result(sfn_status_name(st), sfn_exec_output(e),
                         sfn_exec_error(e), sfn_exec_cause(e));

    while (cli.timers) {
        sfn_cli_timer_t  *t = cli.timers;
        cli.timers = t->next;
        sfn_cli_timer_free(t);
    }

    sfn_exec_free(e);
    sfn_machine_free(m);
    sfn_mock_free(mock);

    for (i = 0; i < cli.nbuckets; i++) {
        free(cli.buckets[i].name);
        free(cli.buckets[i].dir);
    }

    if (cli.history && cli.history != stderr) {
        fclose(cli.history);
    }

    return st == SFN_SUCCEEDED ? 0 : 1;
}


/*
 * JavaScript strings, and so the corpus, may hold lone surrogates ("\ud800")
 * that cJSON refuses: they are carried as the three bytes of their WTF-8
 * form, which the JSONata string functions read back as that code unit.
 */

static int
sfn_cli_hex4(const char *p, unsigned *out)
{
    int       i;
    unsigned  v, d;

    v = 0;
    for (i = 0; i < 4; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            d = p[i] - '0';
        } else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f') {
            d = (p[i] | 0x20) - 'a' + 10;
        } else {
            return -1;
        }
        v = v * 16 + d;
    }

    *out = v;
    return 0;
}


static size_t
sfn_cli_lone_surrogates(char *text, size_t len)
{
    char      *r, *w, *end;
    unsigned   hi, lo;

    r = text;
    w = text;
    end = text + len;

    while (r < end) {
        if (*r != '\\' || r + 1 >= end) {
            *w++ = *r++;
            continue;
        }

        if (r[1] != 'u' || r + 6 > end || sfn_cli_hex4(r + 2, &hi) != 0
            || hi < 0xd800 || hi > 0xdfff)
        {
            *w++ = *r++;
            *w++ = *r++;
            continue;
        }

        if (hi < 0xdc00 && r + 12 <= end && r[6] == '\\' && r[7] == 'u'
            && sfn_cli_hex4(r + 8, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff)
        {
            memmove(w, r, 12);
            w += 12;
            r += 12;
            continue;
        }

        *w++ = (char) (0xe0 | (hi >> 12));
        *w++ = (char) (0x80 | ((hi >> 6) & 0x3f));
        *w++ = (char) (0x80 | (hi & 0x3f));
        r += 6;
    }

    return w - text;
}


/* ... and printed back as the escapes JSON.stringify writes for them */

static void
sfn_cli_print_wtf8(const char *s)
{
    const unsigned char  *p;

    for (p = (const unsigned char *) s; *p; p++) {
        if (p[0] == 0xed && (p[1] & 0xe0) == 0xa0 && (p[2] & 0xc0) == 0x80) {
            printf("\\u%04x", 0xd000 | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f));
            p += 2;
        } else {
            putchar(*p);
        }
    }

    putchar('\n');
}


static int
sfn_cli_jsonata(int argc, char **argv)
{
    int                    rc;
    char                  *text, *printed;
    size_t                 len;
    cJSON                 *c, *expr, *data, *out, *res;
    sfn_jsonata_t         *prog;
    sfn_jsonata_error_t    err;
    sfn_jsonata_limits_t   limits;

    if (argc != 1) {
        sfn_cli_usage();
        return 2;
    }

    text = sfn_cli_read(argv[0], &len);
    if (text == NULL) {
        fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
        return 2;
    }

    len = sfn_cli_lone_surrogates(text, len);
    c = cJSON_ParseWithLength(text, len);
    free(text);

    expr = c ? cJSON_GetObjectItemCaseSensitive(c, "expr") : NULL;
    if (!cJSON_IsString(expr)) {
        fprintf(stderr, "%s: not a case file\n", argv[0]);
        cJSON_Delete(c);
        return 2;
    }

    memset(&limits, 0, sizeof(limits));
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, "depth"))) {
        limits.depth = cJSON_GetObjectItemCaseSensitive(c, "depth")->valueint;
    }
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, "timelimit"))) {
        limits.timelimit =
            cJSON_GetObjectItemCaseSensitive(c, "timelimit")->valueint;
    }

    res = cJSON_CreateObject();
    prog = sfn_jsonata_compile(expr->valuestring, strlen(expr->valuestring),
                               &err);
    rc = -1;

    if (prog != NULL) {
        data = cJSON_GetObjectItemCaseSensitive(c, "data");
        rc = sfn_jsonata_eval(prog, data,
                              cJSON_GetObjectItemCaseSensitive(c, "bindings"),
                              &limits, &out, &err);
        sfn_jsonata_free(prog);
    }

    if (rc == 0 && out != NULL) {
        cJSON_AddItemToObject(res, "result", out);
    } else if (rc == 0) {
        cJSON_AddTrueToObject(res, "undefined");
    } else {
        cJSON_AddStringToObject(res, "code", err.code);
        cJSON_AddStringToObject(res, "message",
                                err.message ? err.message : "");
        sfn_jsonata_error_clear(&err);
    }

    printed = cJSON_PrintUnformatted(res);
    if (printed) {
        sfn_cli_print_wtf8(printed);
        free(printed);
    }

    cJSON_Delete(res);
    cJSON_Delete(c);

    return 0;
}


int
main(int argc, char **argv)
{
    if (argc < 2) {
        sfn_cli_usage();
        return 2;
    }

    if (strcmp(argv[1], "validate") == 0) {
        return sfn_cli_validate(argc - 2, argv + 2);
    }

    if (strcmp(argv[1], "run") == 0) {
        return sfn_cli_run(argc - 2, argv + 2);
    }

    if (strcmp(argv[1], "jsonata") == 0) {
        return sfn_cli_jsonata(argc - 2, argv + 2);
    }

    sfn_cli_usage();

    return 2;
}

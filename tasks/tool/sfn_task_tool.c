
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn-task: runs one built-in task outside nginx.
 *
 *   sfn-task RESOURCE INPUT.json [--bucket NAME=DIR ...] [--progress]
 *            [--cancel-after SECONDS] [--token TASK_TOKEN]
 *
 * INPUT.json may be "-" for stdin.  Prints {"output":...} and exits 0, or
 * {"error":...,"cause":...} and exits 1; usage errors exit 2.  SIGINT and
 * SIGTERM set the cancel flag, as StopExecution does in the module.
 * The database tasks read the conninfo from SFN_DB_CONNINFO, and the
 * execution ARN from SFN_EXECUTION; --token is the task token a
 * .waitForTaskToken resource would get.
 */


#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sfn_task.h"


#define SFN_TOOL_BUCKETS  64


typedef struct {
    const char           *name[SFN_TOOL_BUCKETS];
    const char           *dir[SFN_TOOL_BUCKETS];
    int                   n;
    int                   progress;
} sfn_tool_ctx_t;


static volatile int  sfn_tool_cancel;


static const char *
sfn_tool_bucket_path(void *data, const char *bucket)
{
    int              i;
    sfn_tool_ctx_t  *ctx = data;

    for (i = 0; i < ctx->n; i++) {
        if (strcmp(ctx->name[i], bucket) == 0) {
            return ctx->dir[i];
        }
    }

    return NULL;
}


static void
sfn_tool_progress(void *data, double percent, double fps)
{
    sfn_tool_ctx_t  *ctx = data;

    if (ctx->progress) {
        fprintf(stderr, "progress %.1f%% %.1f fps\n", percent, fps);
    }
}


static void
sfn_tool_signal(int signo)
{
    sfn_tool_cancel = 1;
}


static void *
sfn_tool_canceller(void *data)
{
    double           secs;
    struct timespec  ts;

    secs = *(double *) data;
    ts.tv_sec = (time_t) secs;
    ts.tv_nsec = (long) ((secs - ts.tv_sec) * 1e9);

    nanosleep(&ts, NULL);
    sfn_tool_cancel = 1;

    return NULL;
}


static char *
sfn_tool_read(const char *path)
{
    FILE    *f;
    char    *buf, *p;
    size_t   len, size, n;

    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    size = 65536;
    len = 0;
    buf = malloc(size);

    while (buf) {
        n = fread(buf + len, 1, size - len - 1, f);
        len += n;

        if (n == 0) {
            break;
        }

        if (size - len - 1 == 0) {
            size *= 2;
            p = realloc(buf, size);

            if (p == NULL) {
                free(buf);
                buf = NULL;
                break;
            }

            buf = p;
        }
    }

    if (f != stdin) {
        fclose(f);
    }

    if (buf) {
        buf[len] = '\0';
    }

    return buf;
}


/*
 * cJSON ends a string at an escaped NUL: "a\u0000b" would reach a task as
 * "a", another key.  Such input is refused, as the module's API does.
 */

static int
sfn_tool_has_nul(const char *p)
{
    int  escaped;

    for (escaped = 0; *p; p++) {

        if (escaped) {
            if (*p == 'u' && strncmp(p + 1, "0000", 4) == 0) {
                return 1;
            }

            escaped = 0;
            continue;
        }

        escaped = (*p == '\\');
    }

    return 0;
}


static void
sfn_tool_usage(void)
{
    fprintf(stderr, "usage: sfn-task RESOURCE INPUT.json "
            "[--bucket NAME=DIR ...] [--progress] [--cancel-after SECS] "
            "[--token TOKEN]\n");
}


int
main(int argc, char **argv)
{
    int               i, rc;
    char             *text, *eq, *s;
    cJSON            *input, *res;
    double            cancel_after;
    const char       *token;
    pthread_t         tid;
    sfn_task_env_t    env;
    sfn_tool_ctx_t    ctx;
    sfn_task_call_t   call;

    if (argc < 3) {
        sfn_tool_usage();
        return 2;
    }

    memset(&ctx, 0, sizeof(sfn_tool_ctx_t));
    cancel_after = -1;
    token = NULL;

    for (i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--bucket") == 0 && i + 1 < argc) {
            i++;
            eq = strchr(argv[i], '=');

            if (eq == NULL || ctx.n == SFN_TOOL_BUCKETS) {
                sfn_tool_usage();
                return 2;
            }

            *eq = '\0';
            ctx.name[ctx.n] = argv[i];
            ctx.dir[ctx.n] = eq + 1;
            ctx.n++;

        } else if (strcmp(argv[i], "--progress") == 0) {
            ctx.progress = 1;

        } else if (strcmp(argv[i], "--cancel-after") == 0 && i + 1 < argc) {
            cancel_after = atof(argv[++i]);

        } else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
            token = argv[++i];

        } else {
            sfn_tool_usage();
            return 2;
        }
    }

    text = sfn_tool_read(argv[2]);
    if (text == NULL) {
        fprintf(stderr, "sfn-task: cannot read \"%s\"\n", argv[2]);
        return 2;
    }

    if (sfn_tool_has_nul(text)) {
        free(text);
        fprintf(stderr, "sfn-task: \"%s\" holds a NUL (\\u0000) in a "
                "string\n", argv[2]);
        return 2;
    }

    input = cJSON_Parse(text);
    free(text);

    if (input == NULL) {
        fprintf(stderr, "sfn-task: \"%s\" is not JSON\n", argv[2]);
        return 2;
    }

    signal(SIGINT, sfn_tool_signal);
    signal(SIGTERM, sfn_tool_signal);

    if (cancel_after >= 0) {
        if (pthread_create(&tid, NULL, sfn_tool_canceller, &cancel_after)
            != 0)
        {
            fprintf(stderr, "sfn-task: pthread_create() failed\n");
            return 2;
        }

        pthread_detach(tid);
    }

    memset(&env, 0, sizeof(sfn_task_env_t));
    env.data = &ctx;
    env.bucket_path = sfn_tool_bucket_path;
    env.cancel = &sfn_tool_cancel;
    env.progress = sfn_tool_progress;
    env.db_conninfo = getenv("SFN_DB_CONNINFO");
    env.execution = getenv("SFN_EXECUTION");

    memset(&call, 0, sizeof(sfn_task_call_t));
    call.resource = argv[1];
    call.input = input;
    call.token = token;
    call.env = &env;

    rc = sfn_task_run(&call);

    res = cJSON_CreateObject();

    if (rc == SFN_TASK_OK) {
        cJSON_AddItemToObject(res, "output", call.output);
        call.output = NULL;

    } else {
        cJSON_AddStringToObject(res, "error", call.error);
        cJSON_AddStringToObject(res, "cause", call.cause);
    }

    s = cJSON_PrintUnformatted(res);
    if (s) {
        printf("%s\n", s);
        free(s);
    }

    cJSON_Delete(res);
    cJSON_Delete(input);

    return rc == SFN_TASK_OK ? 0 : 1;
}

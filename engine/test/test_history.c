
/*
 * Copyright (C) ngx_sfn authors
 *
 * History events: AWS type names in order, ids from 1 without gaps,
 * previousEventId chains, and detail objects.
 */


#include "sfn_test.h"


static const sfn_t_case_t  history_cases[] = {

    { "pass chain",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Next`:`B`},"
      "`B`:{`Type`:`Pass`,`End`:true}}}", "{}", "SUCCEEDED", NULL, NULL,
      NULL,
      "ExecutionStarted,PassStateEntered,PassStateExited,PassStateEntered,"
      "PassStateExited,ExecutionSucceeded" },

    { "task",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:echo`,"
      "`End`:true}}}", "{}", "SUCCEEDED", NULL, NULL, NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskSucceeded,TaskStateExited,ExecutionSucceeded" },

    { "choice, wait, succeed",
      "{`StartAt`:`C`,`States`:{`C`:{`Type`:`Choice`,`Choices`:[{"
      "`Variable`:`$.a`,`IsPresent`:true,`Next`:`W`}]},`W`:{`Type`:`Wait`,"
      "`Seconds`:1,`Next`:`S`},`S`:{`Type`:`Succeed`}}}", "{`a`:1}",
      "SUCCEEDED", NULL, NULL, NULL,
      "ExecutionStarted,ChoiceStateEntered,ChoiceStateExited,"
      "WaitStateEntered,WaitStateExited,SucceedStateEntered,"
      "SucceedStateExited,ExecutionSucceeded" },

    { "fail",
      "{`StartAt`:`F`,`States`:{`F`:{`Type`:`Fail`,`Error`:`E`}}}", "{}",
      "FAILED", NULL, "E", NULL,
      "ExecutionStarted,FailStateEntered,ExecutionFailed" },

    { "no choice matched",
      "{`StartAt`:`C`,`States`:{`C`:{`Type`:`Choice`,`Choices`:[{"
      "`Variable`:`$.a`,`IsPresent`:true,`Next`:`S`}]},"
      "`S`:{`Type`:`Succeed`}}}", "{}",
      "FAILED", NULL, "States.NoChoiceMatched", NULL,
      "ExecutionStarted,ChoiceStateEntered,ExecutionFailed" },

    { "parallel",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Parallel`,`Branches`:[{"
      "`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`End`:true}}}],"
      "`End`:true}}}", "{}", "SUCCEEDED", NULL, NULL, NULL,
      "ExecutionStarted,ParallelStateEntered,ParallelStateStarted,"
      "PassStateEntered,PassStateExited,ParallelStateSucceeded,"
      "ParallelStateExited,ExecutionSucceeded" },

    { "map",
      "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`ItemProcessor`:{"
      "`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`End`:true}}},"
      "`MaxConcurrency`:1,`End`:true}}}", "[1,2]", "SUCCEEDED", NULL, NULL,
      NULL,
      "ExecutionStarted,MapStateEntered,MapStateStarted,"
      "MapIterationStarted,PassStateEntered,PassStateExited,"
      "MapIterationSucceeded,MapIterationStarted,PassStateEntered,"
      "PassStateExited,MapIterationSucceeded,MapStateSucceeded,"
      "MapStateExited,ExecutionSucceeded" },

    { "map failure",
      "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`ItemProcessor`:{"
      "`StartAt`:`F`,`States`:{`F`:{`Type`:`Fail`,`Error`:`X`}}},"
      "`MaxConcurrency`:1,`End`:true}}}", "[1,2]", "FAILED", NULL, "X",
      NULL,
      "ExecutionStarted,MapStateEntered,MapStateStarted,"
      "MapIterationStarted,FailStateEntered,MapIterationFailed,"
      "MapStateFailed,ExecutionFailed" },

    { "task failure caught",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:fail`,"
      "`Catch`:[{`ErrorEquals`:[`States.ALL`],`Next`:`S`}],`End`:true},"
      "`S`:{`Type`:`Succeed`}}}", "{`Error`:`E`}", "SUCCEEDED", NULL, NULL,
      NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskFailed,SucceedStateEntered,SucceedStateExited,"
      "ExecutionSucceeded" },
};


SFN_T_TABLE(test_sequences, history_cases)


static void
test_details(void **state)
{
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    h->full_events = 1;

    d = sfn_t_unquote("{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,"
                      "`Result`:{`x`:1},`Next`:`T`},`T`:{`Type`:`Task`,"
                      "`Resource`:`test:fail`,`Parameters`:{`Error`:`E`,"
                      "`Cause`:`C`},`TimeoutSeconds`:9,`End`:true}}}");

    sfn_t_run(h, d, "{\"in\":true}", &r);
    free(d);

    assert_int_equal(r.status, SFN_FAILED);

    /* ids and previousEventId as AWS numbers them */
    assert_non_null(strstr(h->details,
        "1/0 {\"executionStartedEventDetails\":{\"input\":\"{\\\"in\\\":"
        "true}\",\"inputDetails\":{\"truncated\":false},\"roleArn\":"));
    assert_non_null(strstr(h->details,
        "2/1 {\"stateEnteredEventDetails\":{\"name\":\"A\",\"input\":"
        "\"{\\\"in\\\":true}\",\"inputDetails\":{\"truncated\":false}}}"));
    assert_non_null(strstr(h->details,
        "3/2 {\"stateExitedEventDetails\":{\"name\":\"A\",\"output\":"
        "\"{\\\"x\\\":1}\",\"outputDetails\":{\"truncated\":false}}}"));
    assert_non_null(strstr(h->details,
        "5/4 {\"taskScheduledEventDetails\":{\"resourceType\":\"test\","
        "\"resource\":\"fail\",\"region\":"));
    assert_non_null(strstr(h->details, "\"timeoutInSeconds\":9"));
    assert_non_null(strstr(h->details,
        "6/5 {\"taskStartedEventDetails\":{\"resourceType\":\"test\","
        "\"resource\":\"fail\"}}"));
    assert_non_null(strstr(h->details,
        "7/6 {\"taskFailedEventDetails\":{\"resourceType\":\"test\","
        "\"resource\":\"fail\",\"error\":\"E\",\"cause\":\"C\"}}"));
    assert_non_null(strstr(h->details,
        "8/7 {\"executionFailedEventDetails\":{\"error\":\"E\","
        "\"cause\":\"C\"}}"));
    assert_true(h->ids_ok);

    sfn_t_result_free(&r);
    free(h);
}


/* sfn_exec_redrive(): from a top-level state, the history going on */

static void
test_redrive(void **state)
{
    char            *d;
    sfn_host_t       host;
    sfn_diag_t       diag;
    sfn_exec_t      *e;
    sfn_t_host_t    *h;
    const char      *error, *cause;
    sfn_machine_t   *m;
    sfn_exec_conf_t  conf;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    sfn_t_host_init(h, &host);
    h->full_events = 1;

    d = sfn_t_unquote("{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,"
                      "`Next`:`B`},`B`:{`Type`:`Pass`,`Parameters`:{"
                      "`b.$`:`$.b`,`rc.$`:`$$.Execution.RedriveCount`,"
                      "`first.$`:`$$.Execution.Input.first`},`End`:true}}}");
    m = sfn_machine_load(d, strlen(d), sfn_t_known, NULL, &diag);
    free(d);
    assert_non_null(m);

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.name = "exec-1";
    conf.arn = "arn:aws:states:us-east-1:000000000000:execution:sm:exec-1";
    conf.type = SFN_STANDARD;

    e = sfn_exec_redrive(m, &host, &conf, "{\"first\":7}", 11, "Nope",
                         "{}", 2, 5, 1, &error, &cause);
    assert_null(e);
    assert_string_equal(error, "States.Runtime");

    e = sfn_exec_redrive(m, &host, &conf, "{\"first\":7}", 11, "B",
                         "{\"b\":", 5, 5, 1, &error, &cause);
    assert_null(e);
    assert_string_equal(error, "InvalidExecutionInput");

    e = sfn_exec_redrive(m, &host, &conf, "{\"first\":7}", 11, "B",
                         "{\"b\":1}", 7, 5, 2, &error, &cause);
    assert_non_null(e);
    h->e = e;

    assert_int_equal(sfn_exec_start(e), SFN_SUCCEEDED);
    assert_string_equal(sfn_exec_output(e),
                        "{\"b\":1,\"rc\":2,\"first\":7}");

    /* ids go on after the last one kept; A is not entered again */
    assert_non_null(strstr(h->details,
        "6/5 {\"executionRedrivenEventDetails\":{\"redriveCount\":2}}"));
    assert_non_null(strstr(h->details,
        "7/6 {\"stateEnteredEventDetails\":{\"name\":\"B\",\"input\":"
        "\"{\\\"b\\\":1}\""));
    assert_null(strstr(h->details, "\"name\":\"A\""));

    sfn_exec_free(e);
    sfn_machine_free(m);
    free(h);
}


static void
test_parallel_chains(void **state)
{
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    h->full_events = 1;

    d = sfn_t_unquote("{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,"
                      "`ItemProcessor`:{`StartAt`:`A`,`States`:{`A`:{"
                      "`Type`:`Pass`,`End`:true}}},`End`:true}}}");

    sfn_t_run(h, d, "[1,2]", &r);
    free(d);

    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_true(h->ids_ok);

    /* the iteration's first state points back at its iteration start */
    assert_non_null(strstr(h->details,
        "4/3 {\"mapIterationStartedEventDetails\":{\"name\":\"M\","
        "\"index\":0}}"));
    assert_non_null(strstr(h->details,
        "5/4 {\"mapIterationStartedEventDetails\":{\"name\":\"M\","
        "\"index\":1}}"));
    assert_non_null(strstr(h->details,
        "6/4 {\"stateEnteredEventDetails\":{\"name\":\"A\""));
    assert_non_null(strstr(h->details,
        "8/7 {\"mapIterationSucceededEventDetails\":{\"name\":\"M\","
        "\"index\":0}}"));
    assert_non_null(strstr(h->details,
        "9/5 {\"stateEnteredEventDetails\":{\"name\":\"A\""));

    sfn_t_result_free(&r);
    free(h);
}


/*
 * Each Task's TaskScheduled, TaskStarted and TaskSucceeded or TaskFailed
 * name its own resource, as AWS splits it: the service, then the action.
 * The rows run in one machine, in order; a resource the test host does not
 * run fails at once and its Catch moves on to the next row.
 */

static const struct {
    const char  *resource;
    const char  *type;
    const char  *name;
    const char  *end;
} resource_cases[] = {
    { "test:echo", "test", "echo", "taskSucceededEventDetails" },
    { "arn:aws:states:::dynamodb:putItem", "dynamodb", "putItem",
      "taskFailedEventDetails" },
    { "test:sync", "test", "sync", "taskSucceededEventDetails" },
    { "arn:aws:states:::lambda:invoke", "lambda", "invoke",
      "taskFailedEventDetails" },
    { "arn:aws:states:::states:startExecution.sync:2", "states",
      "startExecution.sync:2", "taskFailedEventDetails" },
    { "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "sqs",
      "sendMessage.waitForTaskToken", "taskFailedEventDetails" },
    { "arn:aws:lambda:us-east-1:000000000000:function:f", "lambda",
      "arn:aws:lambda:us-east-1:000000000000:function:f",
      "taskFailedEventDetails" },
    { "sfn:file:copy", "sfn", "file:copy", "taskFailedEventDetails" },
    { "test:echo", "test", "echo", "taskSucceededEventDetails" },
};


static void
test_task_resources(void **state)
{
    char            *d, *p, want[512];
    size_t           i, n;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;
    const char      *q;

    (void) state;

    n = sizeof(resource_cases) / sizeof(resource_cases[0]);
    d = malloc(16384);
    assert_non_null(d);

    p = d;
    p += sprintf(d, "{\"StartAt\":\"S0\",\"States\":{");

    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s\"S%zu\":{\"Type\":\"Task\","
                     "\"Resource\":\"%s\",\"Catch\":[{\"ErrorEquals\":"
                     "[\"States.ALL\"],\"ResultPath\":null,\"Next\":\"%s%zu\""
                     "}],", i ? "," : "", i, resource_cases[i].resource,
                     i + 1 < n ? "S" : "End", i + 1);
        if (i + 1 < n) {
            p += sprintf(p, "\"Next\":\"S%zu\"}", i + 1);

        } else {
            p += sprintf(p, "\"End\":true}");
        }
    }

    sprintf(p, ",\"End%zu\":{\"Type\":\"Succeed\"}}}", n);

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    h->full_events = 1;

    sfn_t_run(h, d, "{}", &r);
    free(d);

    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_true(h->ids_ok);

    /* in order: each state's entry, then its three task events */
    q = h->details;

    for (i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "{\"stateEnteredEventDetails\":{"
                 "\"name\":\"S%zu\"", i);
        q = strstr(q, want);
        assert_non_null(q);

        snprintf(want, sizeof(want), "{\"taskScheduledEventDetails\":{"
                 "\"resourceType\":\"%s\",\"resource\":\"%s\",",
                 resource_cases[i].type, resource_cases[i].name);
        q = strstr(q, want);
        assert_non_null(q);

        snprintf(want, sizeof(want), "{\"taskStartedEventDetails\":{"
                 "\"resourceType\":\"%s\",\"resource\":\"%s\"}}",
                 resource_cases[i].type, resource_cases[i].name);
        q = strstr(q, want);
        assert_non_null(q);

        snprintf(want, sizeof(want), "{\"%s\":{\"resourceType\":\"%s\","
                 "\"resource\":\"%s\",", resource_cases[i].end,
                 resource_cases[i].type, resource_cases[i].name);
        q = strstr(q, want);
        if (q == NULL) {
            print_error("row %zu (%s): no %s\n%s", i,
                        resource_cases[i].resource, want, h->details);
        }
        assert_non_null(q);
    }

    sfn_t_result_free(&r);
    free(h);
}


/*
 * AWS ends a Standard execution whose history reaches 25,000 events: event
 * 24,999 is the last the machine produced, 25,000 its ExecutionFailed.
 * Express executions keep no such history and run on.
 */
static void
test_history_limit(void **state)
{
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    /* 4 events a round: 13,000 rounds make 52,000 */
    d = sfn_t_unquote("{`StartAt`:`Add`,`States`:{`Add`:{`Type`:`Pass`,"
                      "`Parameters`:{`i.$`:`States.MathAdd($.i, 1)`},"
                      "`Next`:`Loop`},`Loop`:{`Type`:`Choice`,`Choices`:[{"
                      "`Variable`:`$.i`,`NumericLessThan`:13000,"
                      "`Next`:`Add`}],`Default`:`Done`},"
                      "`Done`:{`Type`:`Succeed`}}}");

    h->type = SFN_STANDARD;
    sfn_t_run(h, d, "{\"i\":0}", &r);

    assert_int_equal(r.status, SFN_FAILED);
    assert_string_equal(r.error, "States.Runtime");
    assert_string_equal(r.cause, "The execution reached the maximum number "
                                 "of history events (25000).");
    assert_int_equal(h->last_id, 25000);
    assert_int_equal(h->last_previous_id, 24999);
    assert_string_equal(h->last_type, "ExecutionFailed");
    /* ExecutionStarted, then 4 a round from id 2: 24,999 exits the Pass */
    assert_string_equal(h->prev_type, "PassStateExited");
    assert_true(h->ids_ok);
    sfn_t_result_free(&r);

    memset(h, 0, sizeof(sfn_t_host_t));
    h->type = SFN_EXPRESS;
    sfn_t_run(h, d, "{\"i\":0}", &r);

    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_true(h->last_id > 52000);
    assert_string_equal(h->last_type, "ExecutionSucceeded");
    sfn_t_result_free(&r);

    free(d);
    free(h);
}


/*
 * A lazy host gets state, ExecutionStarted and ExecutionSucceeded events
 * unformatted, and sfn_event_details() builds from them what an eager host
 * is given: the two histories read the same.
 */
static void
test_lazy_events(void **state)
{
    char            *d, *eager;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    d = sfn_t_unquote("{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,"
                      "`Result`:{`x`:1},`ResultPath`:`$.r`,`Next`:`M`},"
                      "`M`:{`Type`:`Map`,`ItemsPath`:`$.items`,"
                      "`ItemProcessor`:{`StartAt`:`P`,`States`:{`P`:{"
                      "`Type`:`Pass`,`End`:true}}},`ResultPath`:`$.m`,"
                      "`Next`:`T`},`T`:{`Type`:`Task`,`Resource`:`test:echo`,"
                      "`End`:true}}}");

    h->full_events = 1;
    sfn_t_run(h, d, "{\"items\":[1,\"two\"]}", &r);
    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_int_equal(h->lazy_built, 0);
    eager = strdup(h->details);
    assert_non_null(eager);
    sfn_t_result_free(&r);

    memset(h, 0, sizeof(sfn_t_host_t));
    h->full_events = 1;
    h->lazy = 1;
    h->keep = 1;
    sfn_t_run(h, d, "{\"items\":[1,\"two\"]}", &r);
    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_string_equal(r.output, "{\"items\":[1,\"two\"],\"r\":{\"x\":1},"
                                  "\"m\":[1,\"two\"]}");

    /*
     * ExecutionStarted, 10 state events, 4 Map iteration events,
     * ExecutionSucceeded
     */
    assert_int_equal(h->lazy_built, 16);
    assert_string_equal(h->details, eager);
    assert_true(h->ids_ok);

    /*
     * Kept past the callback, the execution's later changes (ResultPath
     * into the input the events share) and its end: formatted after
     * sfn_exec_free(), the events read as they did when emitted.
     */
    assert_string_equal(h->kept_details, eager);

    sfn_t_result_free(&r);
    free(eager);
    free(d);
    free(h);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_details),
        cmocka_unit_test(test_redrive),
        cmocka_unit_test(test_parallel_chains),
        cmocka_unit_test(test_history_limit),
        cmocka_unit_test(test_task_resources),
        cmocka_unit_test(test_lazy_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

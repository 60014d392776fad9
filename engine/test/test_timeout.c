
/*
 * Copyright (C) ngx_sfn authors
 *
 * Timers: Task TimeoutSeconds(Path), HeartbeatSeconds(Path), the
 * execution's TimeoutSeconds, and Wait in all four forms.  The test host's
 * virtual clock makes elapsed times exact.
 */


#include "sfn_test.h"


#define TASK(res, extra)                                                      \
    "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`" res "`,"      \
    extra "`End`:true}}}"


static const sfn_t_case_t  timeout_cases[] = {

    { "task within its timeout",
      TASK("test:sleep", "`TimeoutSeconds`:10,"), "{`seconds`:3}",
      "SUCCEEDED", "{`seconds`:3}", NULL, NULL, NULL },

    { "task timeout",
      TASK("test:sleep", "`TimeoutSeconds`:2,"), "{`seconds`:30}",
      "FAILED", NULL, "States.Timeout", NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskTimedOut,ExecutionFailed" },

    { "task that never answers times out",
      TASK("test:never", "`TimeoutSeconds`:5,"), "{}",
      "FAILED", NULL, "States.Timeout", NULL, NULL },

    { "timeout caught by name",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:never`,"
      "`TimeoutSeconds`:1,`Catch`:[{`ErrorEquals`:[`States.Timeout`],"
      "`Next`:`H`}],`End`:true},`H`:{`Type`:`Pass`,`End`:true}}}",
      "{}",
      "SUCCEEDED", NULL, NULL, NULL, NULL },

    { "timeout caught by States.ALL",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:never`,"
      "`TimeoutSeconds`:1,`Catch`:[{`ErrorEquals`:[`States.ALL`],"
      "`ResultPath`:`$.e`,`Next`:`H`}],`End`:true},"
      "`H`:{`Type`:`Pass`,`OutputPath`:`$.e.Error`,`End`:true}}}",
      "{}",
      "SUCCEEDED", "`States.Timeout`", NULL, NULL, NULL },

    { "heartbeats keep a long task alive",
      TASK("test:sleep", "`TimeoutSeconds`:60,`HeartbeatSeconds`:3,"),
      "{`seconds`:20,`heartbeat`:2}",
      "SUCCEEDED", NULL, NULL, NULL, NULL },

    { "missing heartbeats time the task out",
      TASK("test:sleep", "`TimeoutSeconds`:60,`HeartbeatSeconds`:3,"),
      "{`seconds`:20,`heartbeat`:2,`heartbeatUntil`:4}",
      "FAILED", NULL, "States.HeartbeatTimeout", NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskTimedOut,ExecutionFailed" },

    { "no heartbeat at all",
      TASK("test:sleep", "`HeartbeatSeconds`:5,"), "{`seconds`:20}",
      "FAILED", NULL, "States.HeartbeatTimeout", NULL, NULL },

    { "TimeoutSecondsPath",
      TASK("test:sleep", "`TimeoutSecondsPath`:`$.t`,"),
      "{`seconds`:20,`t`:4}",
      "FAILED", NULL, "States.Timeout", NULL, NULL },

    { "TimeoutSecondsPath not a number",
      TASK("test:sleep", "`TimeoutSecondsPath`:`$.t`,"),
      "{`seconds`:20,`t`:`x`}",
      "FAILED", NULL, "States.Runtime", "TimeoutSecondsPath", NULL },

    { "TimeoutSecondsPath missing",
      TASK("test:sleep", "`TimeoutSecondsPath`:`$.nope`,"),
      "{`seconds`:20}",
      "FAILED", NULL, "States.Runtime", "$.nope", NULL },

    { "HeartbeatSecondsPath",
      TASK("test:sleep", "`HeartbeatSecondsPath`:`$.hb`,"),
      "{`seconds`:20,`hb`:1}",
      "FAILED", NULL, "States.HeartbeatTimeout", NULL, NULL },

    { "timeout retried",
      TASK("test:sleep", "`TimeoutSeconds`:5,`Retry`:[{`ErrorEquals`:"
           "[`States.Timeout`],`MaxAttempts`:1}],"),
      "{`seconds`:30}",
      "FAILED", NULL, "States.Timeout", NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskTimedOut,TaskScheduled,TaskStarted,TaskTimedOut,"
      "ExecutionFailed" },

    { "execution TimeoutSeconds",
      "{`TimeoutSeconds`:10,`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,"
      "`Seconds`:100,`End`:true}}}",
      "{}",
      "TIMED_OUT", NULL, "States.Timeout", NULL,
      "ExecutionStarted,WaitStateEntered,ExecutionTimedOut" },

    { "execution finishes before its timeout",
      "{`TimeoutSeconds`:10,`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,"
      "`Seconds`:5,`End`:true}}}",
      "{`a`:1}",
      "SUCCEEDED", "{`a`:1}", NULL, NULL,
      "ExecutionStarted,WaitStateEntered,WaitStateExited,"
      "ExecutionSucceeded" },

    { "execution timeout during a Map",
      "{`TimeoutSeconds`:3,`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,"
      "`ItemProcessor`:{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,"
      "`Resource`:`test:never`,`End`:true}}},`End`:true}}}",
      "[1,2,3]",
      "TIMED_OUT", NULL, NULL, NULL, NULL },
};


static const sfn_t_case_t  wait_cases[] = {

    { "Wait Seconds",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`Seconds`:7,"
      "`End`:true}}}", "{`x`:1}",
      "SUCCEEDED", "{`x`:1}", NULL, NULL, NULL },

    { "Wait Seconds 0",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`Seconds`:0,"
      "`End`:true}}}", "{`x`:1}",
      "SUCCEEDED", "{`x`:1}", NULL, NULL, NULL },

    { "Wait SecondsPath",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`SecondsPath`:`$.s`,"
      "`End`:true}}}", "{`s`:3}",
      "SUCCEEDED", "{`s`:3}", NULL, NULL, NULL },

    { "Wait SecondsPath negative",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`SecondsPath`:`$.s`,"
      "`End`:true}}}", "{`s`:-3}",
      "FAILED", NULL, "States.Runtime", NULL, NULL },

    { "Wait SecondsPath missing",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`SecondsPath`:`$.x.y`,"
      "`End`:true}}}", "{}",
      "FAILED", NULL, "States.Runtime",
      "An error occurred while executing the state 'W' (entered at the "
      "event id #2). The SecondsPath parameter does not reference an input "
      "value: $.x.y", NULL },

    { "Wait Timestamp in the past",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,"
      "`Timestamp`:`2016-03-14T01:59:00Z`,`End`:true}}}", "{}",
      "SUCCEEDED", "{}", NULL, NULL, NULL },

    { "Wait TimestampPath",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`TimestampPath`:`$.t`,"
      "`End`:true}}}", "{`t`:`2090-01-01T00:00:00+01:00`}",
      "SUCCEEDED", NULL, NULL, NULL, NULL },

    { "Wait TimestampPath not a timestamp",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`TimestampPath`:`$.t`,"
      "`End`:true}}}", "{`t`:`tomorrow`}",
      "FAILED", NULL, "States.Runtime", NULL, NULL },

    { "Wait InputPath and OutputPath",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`Seconds`:1,"
      "`InputPath`:`$.a`,`OutputPath`:`$.b`,`End`:true}}}",
      "{`a`:{`b`:5}}",
      "SUCCEEDED", "5", NULL, NULL, NULL },
};


SFN_T_TABLE(test_timeouts, timeout_cases)
SFN_T_TABLE(test_waits, wait_cases)


static void
test_elapsed(void **state)
{
    size_t           i;
    char            *d, *in;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    static const struct {
        const char  *def;
        const char  *input;
        int64_t      elapsed;
        int          cancelled;
    } rows[] = {
        { TASK("test:sleep", "`TimeoutSeconds`:2,"), "{`seconds`:30}",
          2000, 1 },
        { TASK("test:sleep", "`TimeoutSeconds`:60,`HeartbeatSeconds`:3,"),
          "{`seconds`:20,`heartbeat`:2,`heartbeatUntil`:4}", 7000, 1 },
        { TASK("test:sleep", "`TimeoutSeconds`:5,`Retry`:[{`ErrorEquals`:"
               "[`States.Timeout`],`MaxAttempts`:1,`IntervalSeconds`:3}],"),
          "{`seconds`:30}", 13000, 2 },
        { "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`Seconds`:7,"
          "`End`:true}}}", "{}", 7000, 0 },
        { "{`TimeoutSeconds`:10,`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,"
          "`Seconds`:100,`End`:true}}}", "{}", 10000, 0 },
    };

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        d = sfn_t_unquote(rows[i].def);
        in = sfn_t_unquote(rows[i].input);

        sfn_t_run(h, d, in, &r);

        if (r.elapsed_ms != rows[i].elapsed
            || h->tasks_cancelled != rows[i].cancelled)
        {
            fail_msg("row %zu: elapsed %lld cancelled %d", i,
                     (long long) r.elapsed_ms, h->tasks_cancelled);
        }

        free(d);
        free(in);
        sfn_t_result_free(&r);
    }

    free(h);
}


/*
 * An Express execution ends at AWS's five minutes, whatever its own
 * TimeoutSeconds says; a shorter TimeoutSeconds still applies, and a
 * Standard execution has no such limit.
 */
static void
test_express_limit(void **state)
{
    size_t           i;
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    static const struct {
        sfn_type_e    type;
        const char   *def;
        const char   *status;
        int64_t       elapsed;
        const char   *cause;
    } rows[] = {
        { SFN_EXPRESS,
          "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`Seconds`:400,"
          "`End`:true}}}",
          "TIMED_OUT", 300000, "maximum duration of an Express" },
        { SFN_EXPRESS,
          "{`TimeoutSeconds`:3600,`StartAt`:`W`,`States`:{`W`:{"
          "`Type`:`Wait`,`Seconds`:400,`End`:true}}}",
          "TIMED_OUT", 300000, "maximum duration of an Express" },
        { SFN_EXPRESS,
          "{`TimeoutSeconds`:10,`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,"
          "`Seconds`:400,`End`:true}}}",
          "TIMED_OUT", 10000, "The execution timed out" },
        { SFN_EXPRESS,
          "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`Seconds`:299,"
          "`End`:true}}}",
          "SUCCEEDED", 299000, NULL },
        { SFN_STANDARD,
          "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`Seconds`:400,"
          "`End`:true}}}",
          "SUCCEEDED", 400000, NULL },
    };

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        h->type = rows[i].type;
        d = sfn_t_unquote(rows[i].def);

        sfn_t_run(h, d, "{}", &r);

        if (strcmp(sfn_status_name(r.status), rows[i].status) != 0
            || r.elapsed_ms != rows[i].elapsed
            || (rows[i].cause != NULL
                && (r.cause == NULL
                    || strstr(r.cause, rows[i].cause) == NULL)))
        {
            fail_msg("row %zu: %s after %lld ms, cause %s", i,
                     sfn_status_name(r.status), (long long) r.elapsed_ms,
                     r.cause ? r.cause : "(none)");
        }

        free(d);
        sfn_t_result_free(&r);
    }

    free(h);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_waits),
        cmocka_unit_test(test_elapsed),
        cmocka_unit_test(test_express_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

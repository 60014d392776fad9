
/*
 * Copyright (C) ngx_sfn authors
 *
 * Retry and Catch, as AWS documents them: retrier order and exhaustion,
 * MaxAttempts 0, back-off, MaxDelaySeconds, jitter, States.ALL and
 * States.TaskFailed wildcards, terminal errors, catcher ResultPath, and
 * Retry/Catch on Parallel and Map.
 */


#include "sfn_test.h"


#define TASK(res, extra)                                                      \
    "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`" res "`,"      \
    extra "`End`:true}}}"

#define CAUGHT                                                                \
    "`H`:{`Type`:`Pass`,`End`:true}"


static const sfn_t_case_t  retry_cases[] = {

    { "retry then succeed",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`E`],`MaxAttempts`:3}],"),
      "{`failures`:2,`Error`:`E`}",
      "SUCCEEDED", "{`attempt`:2}", NULL, NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskFailed,TaskScheduled,TaskStarted,TaskFailed,TaskScheduled,"
      "TaskStarted,TaskSucceeded,TaskStateExited,ExecutionSucceeded" },

    { "retries exhausted",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`E`],`MaxAttempts`:2}],"),
      "{`failures`:5,`Error`:`E`,`Cause`:`boom`}",
      "FAILED", NULL, "E", "boom", NULL },

    { "default MaxAttempts is 3",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`E`]}],"),
      "{`failures`:3,`Error`:`E`}",
      "SUCCEEDED", "{`attempt`:3}", NULL, NULL, NULL },

    { "default MaxAttempts is 3, not 4",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`E`]}],"),
      "{`failures`:4,`Error`:`E`}",
      "FAILED", NULL, "E", NULL, NULL },

    { "MaxAttempts 0 never retries",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`E`],`MaxAttempts`:0}],"),
      "{`failures`:1,`Error`:`E`}",
      "FAILED", NULL, "E", NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskFailed,ExecutionFailed" },

    { "unmatched error is not retried",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`Other`]}],"),
      "{`failures`:1,`Error`:`E`}",
      "FAILED", NULL, "E", NULL, NULL },

    { "first matching retrier wins, exhausted means no fall-through",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`E`],`MaxAttempts`:1},"
           "{`ErrorEquals`:[`States.ALL`],`MaxAttempts`:5}],"),
      "{`failures`:2,`Error`:`E`}",
      "FAILED", NULL, "E", NULL, NULL },

    { "later retrier matches when earlier does not",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`X`],`MaxAttempts`:1},"
           "{`ErrorEquals`:[`E`,`Y`],`MaxAttempts`:5}],"),
      "{`failures`:4,`Error`:`E`}",
      "SUCCEEDED", "{`attempt`:4}", NULL, NULL, NULL },

    { "States.ALL retries any error",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`States.ALL`]}],"),
      "{`failures`:1,`Error`:`Custom.Error`}",
      "SUCCEEDED", "{`attempt`:1}", NULL, NULL, NULL },

    { "States.TaskFailed matches a custom error",
      TASK("test:flaky", "`Retry`:[{`ErrorEquals`:[`States.TaskFailed`]}],"),
      "{`failures`:1,`Error`:`Custom.Error`}",
      "SUCCEEDED", "{`attempt`:1}", NULL, NULL, NULL },

    { "States.TaskFailed does not match States.Timeout",
      TASK("test:sleep", "`TimeoutSeconds`:1,`Retry`:[{`ErrorEquals`:"
           "[`States.TaskFailed`]}],"),
      "{`seconds`:5}",
      "FAILED", NULL, "States.Timeout", NULL, NULL },

    { "a refused task fails with States.TaskFailed and is retried",
      TASK("test:refuse", "`Retry`:[{`ErrorEquals`:[`States.TaskFailed`],"
           "`MaxAttempts`:2}],"),
      NULL,
      "FAILED", NULL, "States.TaskFailed", NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskFailed,TaskScheduled,TaskStarted,TaskFailed,TaskScheduled,"
      "TaskStarted,TaskFailed,ExecutionFailed" },

    { "answers from inside run_task are retried too",
      TASK("test:syncfail", "`Retry`:[{`ErrorEquals`:[`E`],"
           "`MaxAttempts`:2}],"),
      "{`Error`:`E`}",
      "FAILED", NULL, "E", NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskFailed,TaskScheduled,TaskStarted,TaskFailed,TaskScheduled,"
      "TaskStarted,TaskFailed,ExecutionFailed" },

    { "a task answering from inside run_task succeeds",
      TASK("test:sync", ""), "{`a`:1}",
      "SUCCEEDED", "{`a`:1}", NULL, NULL, NULL },

    { "States.Runtime is never retried nor caught",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:echo`,"
      "`Parameters`:{`x.$`:`$.missing`},"
      "`Retry`:[{`ErrorEquals`:[`States.ALL`]}],"
      "`Catch`:[{`ErrorEquals`:[`States.ALL`],`Next`:`H`}],`End`:true},"
      CAUGHT "}}",
      "{}",
      "FAILED", NULL, "States.Runtime",
      "The JSONPath '$.missing' specified for the field 'x.$' could not be "
      "found in the input '{}'", NULL },
};


static const sfn_t_case_t  catch_cases[] = {

    { "catch replaces the input with the error by default",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:fail`,"
      "`Catch`:[{`ErrorEquals`:[`E`],`Next`:`H`}],`End`:true}," CAUGHT "}}",
      "{`Error`:`E`,`Cause`:`why`}",
      "SUCCEEDED", "{`Error`:`E`,`Cause`:`why`}", NULL, NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskFailed,PassStateEntered,PassStateExited,ExecutionSucceeded" },

    { "catch ResultPath keeps the input",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:fail`,"
      "`Catch`:[{`ErrorEquals`:[`States.ALL`],`ResultPath`:`$.err`,"
      "`Next`:`H`}],`End`:true}," CAUGHT "}}",
      "{`Error`:`E`,`Cause`:`why`}",
      "SUCCEEDED",
      "{`Error`:`E`,`Cause`:`why`,`err`:{`Error`:`E`,`Cause`:`why`}}",
      NULL, NULL, NULL },

    { "catch ResultPath null discards the error",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:fail`,"
      "`Catch`:[{`ErrorEquals`:[`States.ALL`],`ResultPath`:null,"
      "`Next`:`H`}],`End`:true}," CAUGHT "}}",
      "{`Error`:`E`,`k`:1}",
      "SUCCEEDED", "{`Error`:`E`,`k`:1}", NULL, NULL, NULL },

    { "catch uses the raw input, not InputPath's",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:fail`,"
      "`InputPath`:`$.in`,`Catch`:[{`ErrorEquals`:[`States.ALL`],"
      "`ResultPath`:`$.err`,`Next`:`H`}],`End`:true}," CAUGHT "}}",
      "{`in`:{`Error`:`E`},`k`:1}",
      "SUCCEEDED", "{`in`:{`Error`:`E`},`k`:1,`err`:{`Error`:`E`}}",
      NULL, NULL, NULL },

    { "first matching catcher wins",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:fail`,"
      "`Catch`:[{`ErrorEquals`:[`X`],`Next`:`A`},{`ErrorEquals`:[`E`],"
      "`Next`:`B`},{`ErrorEquals`:[`States.ALL`],`Next`:`A`}],`End`:true},"
      "`A`:{`Type`:`Pass`,`Result`:`A`,`End`:true},"
      "`B`:{`Type`:`Pass`,`Result`:`B`,`End`:true}}}",
      "{`Error`:`E`}",
      "SUCCEEDED", "`B`", NULL, NULL, NULL },

    { "catch after retries are exhausted",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:flaky`,"
      "`Retry`:[{`ErrorEquals`:[`E`],`MaxAttempts`:1}],"
      "`Catch`:[{`ErrorEquals`:[`E`],`Next`:`H`}],`End`:true}," CAUGHT "}}",
      "{`failures`:9,`Error`:`E`,`Cause`:`c`}",
      "SUCCEEDED", "{`Error`:`E`,`Cause`:`c`}", NULL, NULL,
      "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
      "TaskFailed,TaskScheduled,TaskStarted,TaskFailed,PassStateEntered,"
      "PassStateExited,ExecutionSucceeded" },

    { "catch ResultPath that cannot apply fails the state",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:fail`,"
      "`Parameters`:{`Error`:`E`},`Catch`:[{`ErrorEquals`:[`E`],"
      "`ResultPath`:`$.x`,`Next`:`H`}],`End`:true}," CAUGHT "}}",
      "`a string`",
      "FAILED", NULL, "States.ResultPathMatchFailure", NULL, NULL },

    { "ResultPathMatchFailure is caught like any error",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:echo`,"
      "`ResultPath`:`$.a.b`,`Catch`:[{`ErrorEquals`:"
      "[`States.ResultPathMatchFailure`],`ResultPath`:`$.err`,`Next`:`H`}],"
      "`End`:true}," CAUGHT "}}",
      "{`a`:`str`}",
      "SUCCEEDED", NULL, NULL, NULL, NULL },

    { "a Parallel branch failure is caught on the Parallel",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Parallel`,`Branches`:["
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`End`:true}}},"
      "{`StartAt`:`F`,`States`:{`F`:{`Type`:`Fail`,`Error`:`BranchErr`,"
      "`Cause`:`bc`}}}],"
      "`Catch`:[{`ErrorEquals`:[`BranchErr`],`Next`:`H`}],`End`:true},"
      CAUGHT "}}",
      "{}",
      "SUCCEEDED", "{`Error`:`BranchErr`,`Cause`:`bc`}", NULL, NULL, NULL },

    { "a Parallel is retried as a whole",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Parallel`,`Branches`:["
      "{`StartAt`:`F`,`States`:{`F`:{`Type`:`Fail`,`Error`:`B`}}}],"
      "`Retry`:[{`ErrorEquals`:[`B`],`MaxAttempts`:2}],`End`:true}}}",
      "{}",
      "FAILED", NULL, "B", NULL,
      "ExecutionStarted,ParallelStateEntered,ParallelStateStarted,"
      "FailStateEntered,ParallelStateFailed,ParallelStateStarted,"
      "FailStateEntered,ParallelStateFailed,ParallelStateStarted,"
      "FailStateEntered,ParallelStateFailed,ExecutionFailed" },

    { "a Map iteration failure is caught on the Map",
      "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`ItemProcessor`:{"
      "`StartAt`:`C`,`States`:{`C`:{`Type`:`Choice`,`Choices`:[{"
      "`Variable`:`$`,`NumericEquals`:2,`Next`:`F`}],`Default`:`OK`},"
      "`F`:{`Type`:`Fail`,`Error`:`Two`},`OK`:{`Type`:`Pass`,`End`:true}}},"
      "`Catch`:[{`ErrorEquals`:[`Two`],`ResultPath`:`$`,`Next`:`H`}],"
      "`End`:true}," CAUGHT "}}",
      "[1,2,3]",
      "SUCCEEDED", "{`Error`:`Two`}", NULL, NULL, NULL },

    { "a Fail with no error is caught by States.ALL",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Parallel`,`Branches`:["
      "{`StartAt`:`F`,`States`:{`F`:{`Type`:`Fail`}}}],"
      "`Catch`:[{`ErrorEquals`:[`States.ALL`],`Next`:`H`}],`End`:true},"
      CAUGHT "}}",
      "{}",
      "SUCCEEDED", "{}", NULL, NULL, NULL },

    { "a typo'd wildcard is just a name",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Parallel`,`Branches`:["
      "{`StartAt`:`F`,`States`:{`F`:{`Type`:`Fail`,`Error`:`X`}}}],"
      "`Catch`:[{`ErrorEquals`:[`State.ALL`],`Next`:`H`}],`End`:true},"
      CAUGHT "}}",
      "{}",
      "FAILED", NULL, "X", NULL, NULL },

    { "retry counters reset when the state is entered again",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:flaky`,"
      "`Parameters`:{`failures`:1,`Error`:`E`,`n.$`:`$.n`},"
      "`ResultPath`:`$.r`,`Retry`:[{`ErrorEquals`:[`E`],`MaxAttempts`:1}],"
      "`Next`:`C`},`C`:{`Type`:`Choice`,`Choices`:[{`Variable`:`$.n`,"
      "`NumericEquals`:0,`Next`:`D`}],`Default`:`Dec`},"
      "`Dec`:{`Type`:`Pass`,`Parameters`:{`n`:0},`Next`:`T`},"
      "`D`:{`Type`:`Succeed`}}}",
      "{`n`:1}",
      "SUCCEEDED", "{`n`:0,`r`:{`attempt`:1}}", NULL, NULL, NULL },
};


static const sfn_t_case_t  data_limit_case = {
    "DataLimitExceeded escapes States.ALL",
    "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:echo`,"
      "`Parameters`:{`a.$`:`$`,`b.$`:`$`},`Catch`:[{`ErrorEquals`:"
      "[`States.ALL`],`Next`:`H`}],`End`:true}," CAUGHT "}}",
      NULL,         /* filled in by test_data_limit */
      "FAILED", NULL, "States.DataLimitExceeded", NULL, NULL
};


SFN_T_TABLE(test_retry, retry_cases)
SFN_T_TABLE(test_catch_table, catch_cases)


static void
test_backoff(void **state)
{
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    static const struct {
        const char  *retry;
        int          failures;
        int64_t      elapsed;
    } rows[] = {
        /* 2, 6, 18 */
        { "`IntervalSeconds`:2,`BackoffRate`:3,`MaxAttempts`:3", 3, 26000 },
        /* 1, 2, 4 by default */
        { "`MaxAttempts`:3", 3, 7000 },
        /* 10, 15, 15 */
        { "`IntervalSeconds`:10,`BackoffRate`:10,`MaxDelaySeconds`:15,"
          "`MaxAttempts`:3", 3, 40000 },
        /* 1.5 rate: 2, 3, 4.5 */
        { "`IntervalSeconds`:2,`BackoffRate`:1.5,`MaxAttempts`:3", 3, 9500 },
        { "`IntervalSeconds`:5,`BackoffRate`:1,`MaxAttempts`:4", 4, 20000 },
    };

    char    def[1024], *d;
    size_t  i;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(def, sizeof(def),
                 "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,"
                 "`Resource`:`test:flaky`,`Retry`:[{`ErrorEquals`:[`E`],%s}],"
                 "`End`:true}}}", rows[i].retry);
        d = sfn_t_unquote(def);

        snprintf(def, sizeof(def), "{\"failures\":%d,\"Error\":\"E\"}",
                 rows[i].failures);

        sfn_t_run(h, d, def, &r);
        free(d);

        assert_int_equal(r.status, SFN_SUCCEEDED);
        assert_int_equal(r.elapsed_ms, rows[i].elapsed);
        sfn_t_result_free(&r);
    }

    free(h);
}


static void
test_jitter(void **state)
{
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    d = sfn_t_unquote("{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,"
                      "`Resource`:`test:flaky`,`Retry`:[{`ErrorEquals`:"
                      "[`E`],`IntervalSeconds`:10,`MaxAttempts`:3,"
                      "`JitterStrategy`:`FULL`}],`End`:true}}}");

    sfn_t_run(h, d, "{\"failures\":3,\"Error\":\"E\"}", &r);
    free(d);

    /* full jitter draws each delay from [0, 10 * 2^n]: below 70 s */
    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_true(r.elapsed_ms < 70000);
    assert_true(r.elapsed_ms >= 0);
    sfn_t_result_free(&r);

    free(h);
}


static void
test_data_limit(void **state)
{
    char           *in, *def;
    size_t          n;
    sfn_t_case_t    c;

    (void) state;

    /* 200 KB in, 400 KB back from the task */
    n = 200000;
    in = malloc(n + 32);
    assert_non_null(in);
    memcpy(in, "{\"s\":\"", 6);
    memset(in + 6, 'x', n);
    strcpy(in + 6 + n, "\"}");

    c = data_limit_case;
    c.input = in;
    assert_true(sfn_t_check(&c));

    /* named explicitly, it is caught */
    def = sfn_t_unquote(
        "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:echo`,"
        "`Parameters`:{`a.$`:`$`,`b.$`:`$`},`Catch`:[{`ErrorEquals`:"
        "[`States.DataLimitExceeded`],`ResultPath`:null,`Next`:`H`}],"
        "`End`:true},`H`:{`Type`:`Pass`,`Result`:`caught`,`End`:true}}}");
    c.definition = def;
    c.status = "SUCCEEDED";
    c.output = "`caught`";
    c.error = NULL;
    assert_true(sfn_t_check(&c));

    free(def);
    free(in);
}


static void
test_retry_count_context(void **state)
{
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    d = sfn_t_unquote("{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,"
                      "`Resource`:`test:flaky`,`Parameters`:{`failures`:2,"
                      "`Error`:`E`,`rc.$`:`$$.State.RetryCount`},"
                      "`Retry`:[{`ErrorEquals`:[`E`]}],`End`:true}}}");

    sfn_t_run(h, d, "{}", &r);
    free(d);

    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_int_equal(h->last_attempt, 2);
    assert_non_null(strstr(h->last_task_input, "\"rc\":2"));
    sfn_t_result_free(&r);

    free(h);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_catch_table),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_data_limit),
        cmocka_unit_test(test_retry_count_context),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

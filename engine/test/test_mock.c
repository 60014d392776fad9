
/*
 * Copyright (C) ngx_sfn authors
 *
 * Mocked task results (sfn_mock.c): Step Functions Local's mock
 * configuration as loaded (what it refuses, and why), test cases checked
 * against machines, and mocked executions: Return and Throw by
 * invocation through Retry and Catch, Parallel branches and Map
 * iterations counting one sequence, the invocation past the last, and a
 * snapshot taken between two invocations.
 */


#include "sfn_test.h"


/* the loader: a file, and the reason it is refused (NULL: it loads) */

typedef struct {
    const char           *name;
    const char           *file;
    const char           *error;
} sfn_t_load_t;


#define SMS(tc)                                                               \
    "`StateMachines`:{`sm`:{`TestCases`:{" tc "}}}"

#define ONE  "`MockedResponses`:{`R`:{`0`:{`Return`:1}}}"


static const sfn_t_load_t  load_cases[] = {

    { "the documentation's example",
      "{`StateMachines`:{`LambdaSQSIntegration`:{`TestCases`:{"
      "`HappyPath`:{`LambdaState`:`MockedLambdaSuccess`,"
      "`SQSState`:`MockedSQSSuccess`},"
      "`RetryPath`:{`LambdaState`:`MockedLambdaRetry`,"
      "`SQSState`:`MockedSQSSuccess`},"
      "`HybridPath`:{`LambdaState`:`MockedLambdaSuccess`}}}},"
      "`MockedResponses`:{"
      "`MockedLambdaSuccess`:{`0`:{`Return`:{`StatusCode`:200,"
      "`Payload`:{`StatusCode`:200,`body`:`Hello from Lambda!`}}}},"
      "`LambdaMockedResourceNotReady`:{`0`:{`Throw`:{"
      "`Error`:`Lambda.ResourceNotReadyException`,"
      "`Cause`:`Lambda resource is not ready.`}}},"
      "`MockedSQSSuccess`:{`0`:{`Return`:{`MD5OfMessageBody`:`x`,"
      "`MessageId`:`y`}}},"
      "`MockedLambdaRetry`:{`0`:{`Throw`:{`Error`:`E`,`Cause`:`c`}},"
      "`1-2`:{`Throw`:{`Error`:`T`,`Cause`:`t`}},"
      "`3`:{`Return`:{`StatusCode`:200}}}}}",
      NULL },

    { "empty sections", "{`StateMachines`:{},`MockedResponses`:{}}", NULL },
    { "a Return of null", "{" SMS("`T`:{`A`:`R`}") ","
      "`MockedResponses`:{`R`:{`0`:{`Return`:null}}}}", NULL },
    { "keys out of order", "{" SMS("`T`:{`A`:`R`}") ","
      "`MockedResponses`:{`R`:{`2-5`:{`Return`:1},`0-1`:{`Return`:2}}}}",
      NULL },

    { "not JSON", "{`a`:[1,2,,3]}",
      "not JSON: a syntax error at line 1, column 11" },
    { "not an object", "1", "not a JSON object" },
    { "a section missing", "{`StateMachines`:{}}", "needs" },
    { "an unknown field", "{`StateMachines`:{},`MockedResponses`:{},"
      "`Comment`:`x`}", "unknown field \"Comment\"" },
    { "TestCases missing", "{`StateMachines`:{`sm`:{}}," ONE "}",
      "needs \"TestCases\"" },
    { "a state machine field", "{`StateMachines`:{`sm`:{`TestCases`:{},"
      "`X`:1}}," ONE "}", "unknown field \"X\"" },
    { "a test case not an object", "{" SMS("`T`:1") "," ONE "}",
      "is not an object of state names" },
    { "a response name not a string", "{" SMS("`T`:{`A`:1}") "," ONE "}",
      "must name a mocked response" },
    { "an empty test case name", "{" SMS("``:{}") "," ONE "}",
      "empty name" },
    { "an empty state name", "{" SMS("`T`:{``:`R`}") "," ONE "}",
      "empty name" },
    { "a state given twice", "{" SMS("`T`:{`A`:`R`,`A`:`R`}") "," ONE "}",
      "state \"A\" is given twice" },
    { "an invocation given twice", "{" SMS("") ","
      "`MockedResponses`:{`R`:{`0`:{`Return`:1},`0`:{`Return`:2}}}}",
      "invocation \"0\" is given twice" },
    { "a range past 9 digits", "{" SMS("") ","
      "`MockedResponses`:{`R`:{`0-1000000000`:{`Return`:1}}}}",
      "at most 9 digits" },
    { "the widest range", "{" SMS("") ","
      "`MockedResponses`:{`R`:{`0-999999999`:{`Return`:1}}}}", NULL },
    { "a Throw not an object", "{" SMS("") ","
      "`MockedResponses`:{`R`:{`0`:{`Throw`:`E`}}}}",
      "\"Throw\" is not an object" },
    { "a Throw with more", "{" SMS("") ","
      "`MockedResponses`:{`R`:{`0`:{`Throw`:{`Error`:`E`,`Cause`:`c`,"
      "`X`:1}}}}}", "unknown field \"X\"" },
    { "an empty Error", "{" SMS("") ","
      "`MockedResponses`:{`R`:{`0`:{`Throw`:{`Error`:``,`Cause`:`c`}}}}}",
      "\"Error\" must be 1 to 256" },
    { "a Cause not a string", "{" SMS("") ","
      "`MockedResponses`:{`R`:{`0`:{`Throw`:{`Error`:`E`,`Cause`:1}}}}}",
      "both strings" },
    { "a response not an object", "{" SMS("") ","
      "`MockedResponses`:{`R`:{`0`:[]}}}", "is not an object" },
    { "U+0000 in a test case", "{" SMS("`a\\u0000`:{}") "," ONE "}",
      "test case \"a\\u0000\" contains U+0000" },
    { "U+0000 in a response name", "{" SMS("") ","
      "`MockedResponses`:{`R\\u0000`:{`0`:{`Return`:1}}}}",
      "contains U+0000" },
    { "a control character in a name is quoted", "{" SMS("`T`:{`A`:`\\n`}")
      "," ONE "}", "the mocked response \"\\n\", which" },
};


static void
test_load(void **state)
{
    char         *file, err[1024];
    size_t        i, failed;
    sfn_mock_t   *mk;

    (void) state;

    failed = 0;

    for (i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++) {
        file = sfn_t_unquote(load_cases[i].file);
        err[0] = '\0';
        mk = sfn_mock_load(file, strlen(file), err, sizeof(err));
        free(file);

        if (load_cases[i].error == NULL ? mk == NULL
            : mk != NULL || strstr(err, load_cases[i].error) == NULL)
        {
            print_error("case \"%s\": %s\n", load_cases[i].name,
                        mk ? "loaded" : err);
            failed++;
        }

        sfn_mock_free(mk);
    }

    assert_int_equal(failed, 0);
}


/* mocked executions */

/* a row of sfn_test.h's, run with a test case of mock_file */

typedef struct {
    const char           *test_case;
    sfn_t_case_t          c;
} sfn_t_mocked_t;


#define LAMBDA(name, extra)                                                   \
    "`" name "`:{`Type`:`Task`,`Resource`:`arn:aws:states:::lambda:invoke`,"  \
    "`Parameters`:{`FunctionName`:`f`}," extra "}"

#define RETRY  "`Retry`:[{`ErrorEquals`:[`States.ALL`],`MaxAttempts`:3}],"


static const char  mock_file[] =
    "{`StateMachines`:{`sm`:{`TestCases`:{"
    "`Happy`:{`L`:`ThrowThenReturn`,`B`:`B`,`I`:`Items`},"
    "`Down`:{`L`:`AlwaysThrow`},"
    "`Short`:{`L`:`OneReturn`},"
    "`Echo`:{`T`:`OneReturn`},"
    "`Pass`:{`P`:`OneReturn`},"
    "`Ghost`:{`Nope`:`OneReturn`}}}},"
    "`MockedResponses`:{"
    "`ThrowThenReturn`:{`0`:{`Throw`:{`Error`:`E`,`Cause`:`first`}},"
    "`1`:{`Return`:{`Payload`:{`n`:1}}}},"
    "`AlwaysThrow`:{`0-9`:{`Throw`:{`Error`:`Down`,`Cause`:`down`}}},"
    "`OneReturn`:{`0`:{`Return`:{`Payload`:`one`}}},"
    "`B`:{`0`:{`Return`:`b`}},"
    "`Items`:{`0-1`:{`Return`:`a`},`2`:{`Return`:`z`}}}}";


static const sfn_t_mocked_t  mocked_cases[] = {

    { "Happy",
      { "a Throw retried, then a Return, through ResultSelector",
        "{`StartAt`:`L`,`States`:{" LAMBDA("L", RETRY
        "`ResultSelector`:{`n.$`:`$.Payload.n`},`ResultPath`:`$.r`,"
        "`End`:true") "}}", "{`in`:1}",
        "SUCCEEDED", "{`in`:1,`r`:{`n`:1}}", NULL, NULL,
        "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
        "TaskFailed,TaskScheduled,TaskStarted,TaskSucceeded,"
        "TaskStateExited,ExecutionSucceeded" } },

    { "Down",
      { "retries take invocations until MaxAttempts",
        "{`StartAt`:`L`,`States`:{" LAMBDA("L", RETRY "`End`:true") "}}",
        NULL, "FAILED", NULL, "Down", "down",
        "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
        "TaskFailed,TaskScheduled,TaskStarted,TaskFailed,TaskScheduled,"
        "TaskStarted,TaskFailed,TaskScheduled,TaskStarted,TaskFailed,"
        "ExecutionFailed" } },

    { "Down",
      { "a Throw caught",
        "{`StartAt`:`L`,`States`:{" LAMBDA("L",
        "`Catch`:[{`ErrorEquals`:[`Down`],`Next`:`H`}],`End`:true") ","
        "`H`:{`Type`:`Pass`,`End`:true}}}",
        "{}", "SUCCEEDED", "{`Error`:`Down`,`Cause`:`down`}", NULL, NULL,
        NULL } },

    { "Happy",
      { "a Parallel branch and Map iterations, one count per state",
        "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Parallel`,`Branches`:["
        "{`StartAt`:`B`,`States`:{" LAMBDA("B", "`End`:true") "}},"
        "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`End`:true,"
        "`Iterator`:{`StartAt`:`I`,`States`:{" LAMBDA("I", "`End`:true")
        "}}}}}],`End`:true}}}",
        "[1,2,3]", "SUCCEEDED", "[`b`,[`a`,`a`,`z`]]", NULL, NULL, NULL } },

    { "Short",
      { "past the last invocation: States.Runtime, never caught",
        "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`End`:true,"
        "`Catch`:[{`ErrorEquals`:[`States.ALL`],`Next`:`H`}],"
        "`Iterator`:{`StartAt`:`L`,`States`:{" LAMBDA("L", "`End`:true")
        "}}},`H`:{`Type`:`Pass`,`End`:true}}}",
        "[1,2]", "FAILED", NULL, "States.Runtime",
        "The mocked response 'OneReturn' of test case 'Short' has no "
        "response for invocation 1 of the state (it answers invocations 0 "
        "to 0).", NULL } },

    { "Echo",
      { "a test resource mocked: run_task never called",
        "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,"
        "`Resource`:`test:fail`,`End`:true}}}", "{`Error`:`Real`}",
        "SUCCEEDED", "{`Payload`:`one`}", NULL, NULL, NULL } },

    { "Echo",
      { "a task that never answers, with its timeouts, mocked",
        "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,"
        "`Resource`:`test:never`,`TimeoutSeconds`:5,`HeartbeatSeconds`:2,"
        "`End`:true}}}", NULL, "SUCCEEDED", "{`Payload`:`one`}", NULL, NULL,
        NULL } },

    { "Echo",
      { "a JSONata state: $states.result is the Return",
        "{`QueryLanguage`:`JSONata`,`StartAt`:`T`,`States`:{`T`:{`Type`:"
        "`Task`,`Resource`:`test:fail`,`Arguments`:{`x`:1},"
        "`Output`:`{% {'got': $states.result.Payload} %}`,`End`:true}}}",
        NULL, "SUCCEEDED", "{`got`:`one`}", NULL, NULL, NULL } },

    { "Echo",
      { "an activity mocked: its events, no worker",
        "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:"
        "`arn:aws:states:us-east-1:000000000000:activity:a`,`End`:true}}}",
        NULL, "SUCCEEDED", "{`Payload`:`one`}", NULL, NULL,
        "ExecutionStarted,TaskStateEntered,ActivityScheduled,"
        "ActivityStarted,ActivitySucceeded,TaskStateExited,"
        "ExecutionSucceeded" } },

    { "Echo",
      { "a state not named runs for real",
        "{`StartAt`:`X`,`States`:{`X`:{`Type`:`Task`,"
        "`Resource`:`test:echo`,`End`:true}}}", "{`real`:1}", "SUCCEEDED",
        "{`real`:1}", NULL, NULL, NULL } },
};


static sfn_mock_t *
sfn_t_mock_file(void)
{
    char        *file, err[1024];
    sfn_mock_t  *mk;

    file = sfn_t_unquote(mock_file);
    mk = sfn_mock_load(file, strlen(file), err, sizeof(err));
    free(file);

    if (mk == NULL) {
        print_error("mock file: %s\n", err);
    }

    assert_non_null(mk);

    return mk;
}


static void
test_mocked(void **state)
{
    size_t                  i, failed;
    sfn_mock_t             *mk;
    const sfn_mock_case_t  *c;

    (void) state;

    mk = sfn_t_mock_file();
    failed = 0;

    for (i = 0; i < sizeof(mocked_cases) / sizeof(mocked_cases[0]); i++) {
        c = sfn_mock_case(mk, "sm", mocked_cases[i].test_case, NULL);
        assert_non_null(c);

        if (!sfn_t_check_mocked(&mocked_cases[i].c, c)) {
            failed++;
        }
    }

    sfn_mock_free(mk);

    assert_int_equal(failed, 0);
}


/* test cases against machines, and lookups */

static void
test_check(void **state)
{
    int                     known;
    char                   *def, err[1024];
    sfn_diag_t              d;
    sfn_mock_t             *mk;
    sfn_machine_t          *m;
    const sfn_mock_case_t  *c;

    (void) state;

    mk = sfn_t_mock_file();

    def = sfn_t_unquote("{`StartAt`:`P`,`States`:{`P`:{`Type`:`Pass`,"
                        "`Next`:`Q`},`Q`:{`Type`:`Parallel`,`End`:true,"
                        "`Branches`:[{`StartAt`:`L`,`States`:{"
                        LAMBDA("L", "`End`:true") "}}]}}}");
    m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
    free(def);
    assert_non_null(m);

    c = sfn_mock_case(mk, "sm", "Down", &known);
    assert_non_null(c);
    assert_string_equal(sfn_mock_case_name(c), "Down");
    assert_int_equal(sfn_mock_check(c, m, err, sizeof(err)), SFN_OK);

    assert_null(sfn_mock_case(mk, "sm", "Nope", &known));
    assert_int_equal(known, 1);
    assert_null(sfn_mock_case(mk, "other", "Down", &known));
    assert_int_equal(known, 0);

    c = sfn_mock_case(mk, "sm", "Pass", NULL);
    assert_int_equal(sfn_mock_check(c, m, err, sizeof(err)), SFN_ERROR);
    assert_non_null(strstr(err, "\"P\", a Pass state"));

    c = sfn_mock_case(mk, "sm", "Ghost", NULL);
    assert_int_equal(sfn_mock_check(c, m, err, sizeof(err)), SFN_ERROR);
    assert_non_null(strstr(err, "\"Nope\", which the state machine does "
                                "not have"));

    assert_int_equal(sfn_mock_check_machine(mk, "sm", m, err, sizeof(err)),
                     SFN_ERROR);
    assert_int_equal(sfn_mock_check_machine(mk, "other", m, err,
                                            sizeof(err)), SFN_OK);

    sfn_machine_free(m);
    sfn_mock_free(mk);
}


/* a snapshot between a Throw and its retry keeps the invocation count */

static void
test_snapshot(void **state)
{
    char             *def, *snap;
    sfn_diag_t        d;
    sfn_host_t        host;
    sfn_mock_t       *mk;
    sfn_exec_t       *e;
    sfn_t_host_t     *h;
    const char       *error, *cause;
    sfn_machine_t    *m;
    sfn_exec_conf_t   conf;

    (void) state;

    mk = sfn_t_mock_file();

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    sfn_t_host_init(h, &host);

    def = sfn_t_unquote("{`StartAt`:`L`,`States`:{" LAMBDA("L", RETRY
                        "`End`:true") "}}");
    m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
    free(def);
    assert_non_null(m);

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.mock = sfn_mock_case(mk, "sm", "Happy", NULL);

    e = sfn_exec_create(m, &host, &conf, "{}", 2, &error, &cause);
    assert_non_null(e);
    sfn_exec_start(e);

    /* the Throw was answered; the retry's timer waits */
    assert_int_equal(sfn_exec_status(e), SFN_RUNNING);
    assert_int_equal(h->tasks_run, 0);

    snap = sfn_exec_snapshot(e);
    assert_non_null(snap);
    assert_non_null(strstr(snap, "\"mockCalls\":{\"L\":1}"));

    sfn_exec_free(e);
    sfn_t_host_free(h);

    e = sfn_exec_restore(m, &host, conf.mock, snap, strlen(snap));
    free(snap);
    assert_non_null(e);

    while (sfn_exec_status(e) == SFN_RUNNING && sfn_t_step(h, e)) {
        /* void */
    }

    /* invocation 1, the Return: not the Throw of invocation 0 again */
    assert_int_equal(sfn_exec_status(e), SFN_SUCCEEDED);
    assert_string_equal(sfn_exec_output(e), "{\"Payload\":{\"n\":1}}");

    sfn_exec_free(e);
    sfn_t_host_free(h);
    sfn_machine_free(m);
    sfn_mock_free(mk);
    free(h);
}


/*
 * A distributed Map's child runs its parent's test case and counts with
 * it: invocation 1 after the parent's 0, whichever is freed first
 */

static void
test_children(void **state)
{
    char             *def;
    sfn_diag_t        d;
    sfn_host_t        host;
    sfn_mock_t       *mk;
    sfn_exec_t       *e, *c;
    sfn_t_host_t     *h;
    const char       *error, *cause;
    sfn_machine_t    *m;
    sfn_exec_conf_t   conf;

    (void) state;

    mk = sfn_t_mock_file();

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    sfn_t_host_init(h, &host);

    def = sfn_t_unquote("{`StartAt`:`L`,`States`:{" LAMBDA("L", RETRY
                        "`End`:true") "}}");
    m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
    free(def);
    assert_non_null(m);

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.mock = sfn_mock_case(mk, "sm", "Happy", NULL);

    e = sfn_exec_create(m, &host, &conf, "{}", 2, &error, &cause);
    assert_non_null(e);
    sfn_exec_start(e);

    /* the parent's invocation 0, the Throw */
    assert_int_equal(sfn_exec_status(e), SFN_RUNNING);

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.mock_parent = e;

    c = sfn_exec_create(m, &host, &conf, "{}", 2, &error, &cause);
    assert_non_null(c);
    assert_ptr_equal(sfn_exec_mock_case(c), sfn_exec_mock_case(e));

    sfn_exec_free(e);
    sfn_t_host_free(h);

    sfn_exec_start(c);

    while (sfn_exec_status(c) == SFN_RUNNING && sfn_t_step(h, c)) {
        /* void */
    }

    assert_int_equal(sfn_exec_status(c), SFN_SUCCEEDED);
    assert_string_equal(sfn_exec_output(c), "{\"Payload\":{\"n\":1}}");
    assert_int_equal(h->tasks_run, 0);

    sfn_exec_free(c);
    sfn_t_host_free(h);
    sfn_machine_free(m);
    sfn_mock_free(mk);
    free(h);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_mocked),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_children),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

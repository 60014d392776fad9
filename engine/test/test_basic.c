
/*
 * Copyright (C) ngx_sfn authors
 *
 * Input and output processing in AWS order, null paths, the context
 * object, JSONPath forms, Choice operators, Pass, Succeed and Fail.
 */


#include "sfn_test.h"


#define PASS(fields)                                                          \
    "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Pass`," fields "`End`:true}}}"

#define TASK(fields)                                                          \
    "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:echo`,"    \
    fields "`End`:true}}}"

#define CHOICE(rule)                                                          \
    "{`StartAt`:`C`,`States`:{`C`:{`Type`:`Choice`,`Choices`:[{" rule        \
    ",`Next`:`Y`}],`Default`:`N`},`Y`:{`Type`:`Pass`,`Result`:true,"         \
    "`End`:true},`N`:{`Type`:`Pass`,`Result`:false,`End`:true}}}"


static const sfn_t_case_t  io_cases[] = {

    { "pass through", PASS(""), "{`a`:1}", "SUCCEEDED", "{`a`:1}",
      NULL, NULL, NULL },
    { "Result replaces", PASS("`Result`:{`b.$`:`$.x`},"), "{`a`:1}",
      "SUCCEEDED", "{`b.$`:`$.x`}", NULL, NULL, NULL },
    { "Result into ResultPath", PASS("`Result`:2,`ResultPath`:`$.r.s`,"),
      "{`a`:1}", "SUCCEEDED", "{`a`:1,`r`:{`s`:2}}", NULL, NULL, NULL },
    { "ResultPath replaces a key", PASS("`Result`:2,`ResultPath`:`$.a`,"),
      "{`a`:1,`b`:0}", "SUCCEEDED", "{`a`:2,`b`:0}", NULL, NULL, NULL },
    { "ResultPath into an array slot",
      PASS("`Result`:9,`ResultPath`:`$.a[1]`,"), "{`a`:[1,2,3]}",
      "SUCCEEDED", "{`a`:[1,9,3]}", NULL, NULL, NULL },
    { "ResultPath on a non-object input",
      PASS("`Result`:2,`ResultPath`:`$.a`,"), "[1]",
      "FAILED", NULL, "States.ResultPathMatchFailure", NULL, NULL },
    { "ResultPath null", PASS("`Result`:2,`ResultPath`:null,"), "{`a`:1}",
      "SUCCEEDED", "{`a`:1}", NULL, NULL, NULL },
    { "InputPath then Parameters",
      PASS("`InputPath`:`$.in`,`Parameters`:{`v.$`:`$.v`,`k`:`c`},"),
      "{`in`:{`v`:5}}", "SUCCEEDED", "{`v`:5,`k`:`c`}", NULL, NULL, NULL },
    { "InputPath null gives {}",
      PASS("`InputPath`:null,`Parameters`:{`n.$`:`States.JsonToString($)`},"),
      "{`a`:1}", "SUCCEEDED", "{`n`:`{}`}", NULL, NULL, NULL },
    { "OutputPath null gives {}", PASS("`OutputPath`:null,"), "{`a`:1}",
      "SUCCEEDED", "{}", NULL, NULL, NULL },
    { "OutputPath selects", PASS("`OutputPath`:`$.a.b`,"),
      "{`a`:{`b`:[1]}}", "SUCCEEDED", "[1]", NULL, NULL, NULL },
    { "OutputPath missing",
      PASS("`OutputPath`:`$.x`,"), "{}", "FAILED", NULL, "States.Runtime",
      "Invalid path '$.x' : No results for path: $['x']", NULL },
    { "InputPath missing",
      PASS("`InputPath`:`$.x.y`,"), "{}", "FAILED", NULL, "States.Runtime",
      "An error occurred while executing the state 'P' (entered at the "
      "event id #2). Invalid path '$.x.y' : No results for path: "
      "$['x']['y']", NULL },
    { "task ResultSelector then ResultPath then OutputPath",
      TASK("`Parameters`:{`r`:{`deep`:1},`keep`:2},`ResultSelector`:{"
           "`d.$`:`$.r.deep`},`ResultPath`:`$.res`,`OutputPath`:`$.res`,"),
      "{`orig`:true}", "SUCCEEDED", "{`d`:1}", NULL, NULL, NULL },
    { "task ResultPath keeps the raw input",
      TASK("`InputPath`:`$.a`,`ResultPath`:`$.b`,"), "{`a`:{`x`:1}}",
      "SUCCEEDED", "{`a`:{`x`:1},`b`:{`x`:1}}", NULL, NULL, NULL },
    { "nested Parameters and arrays",
      PASS("`Parameters`:{`o`:{`p.$`:`$.a`,`q`:[1,{`r.$`:`$.a`}]}},"),
      "{`a`:3}", "SUCCEEDED", "{`o`:{`p`:3,`q`:[1,{`r`:3}]}}",
      NULL, NULL, NULL },
    { "wildcard, slice, filter, union, deep scan",
      PASS("`Parameters`:{`w.$`:`$.xs[*].v`,`s.$`:`$.xs[1:]`,"
           "`f.$`:`$.xs[?(@.v > 1)].v`,`u.$`:`$.xs[0,2].v`,"
           "`d.$`:`$..v`,`l.$`:`$.xs.length()`,`n.$`:`$.xs[-1].v`},"),
      "{`xs`:[{`v`:1},{`v`:2},{`v`:3}]}",
      "SUCCEEDED",
      "{`w`:[1,2,3],`s`:[{`v`:2},{`v`:3}],`f`:[2,3],`u`:[1,3],"
      "`d`:[1,2,3],`l`:3,`n`:3}", NULL, NULL, NULL },
    { "filter with strings and logic",
      PASS("`Parameters`:{`f.$`:`$.u[?(@.s == 'a' || (@.n >= 2 && "
           "!(@.n == 3)))].n`},"),
      "{`u`:[{`s`:`a`,`n`:1},{`s`:`b`,`n`:2},{`s`:`c`,`n`:3}]}",
      "SUCCEEDED", "{`f`:[1,2]}", NULL, NULL, NULL },
    { "quoted names", PASS("`Parameters`:{`v.$`:`$['a b']['c.d']`},"),
      "{`a b`:{`c.d`:7}}", "SUCCEEDED", "{`v`:7}", NULL, NULL, NULL },
    { "context object",
      PASS("`Parameters`:{`n.$`:`$$.Execution.Name`,`s.$`:`$$.State.Name`,"
           "`m.$`:`$$.StateMachine.Name`,`i.$`:`$$.Execution.Input.a`,"
           "`r.$`:`$$.Execution.RoleArn`,`c.$`:`$$.Execution.RedriveCount`},"),
      "{`a`:1}", "SUCCEEDED",
      "{`n`:`exec-1`,`s`:`P`,`m`:`sm`,`i`:1,"
      "`r`:`arn:aws:iam::000000000000:role/test`,`c`:0}", NULL, NULL, NULL },
    { "context times",
      PASS("`Parameters`:{`s.$`:`$$.Execution.StartTime`,"
           "`e.$`:`$$.State.EnteredTime`},"),
      "{}", "SUCCEEDED",
      "{`s`:`2023-11-14T22:13:20.000Z`,`e`:`2023-11-14T22:13:20.000Z`}",
      NULL, NULL, NULL },
    { "task token in the context",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,"
      "`Resource`:`test:echo.waitForTaskToken`,`Parameters`:{"
      "`t.$`:`States.ArrayLength(States.Array($$.Task.Token))`},"
      "`End`:true}}}", "{}", "SUCCEEDED", "{`t`:1}", NULL, NULL, NULL },
    { "the next Task has no token of its own",
      "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Task`,"
      "`Resource`:`test:echo.waitForTaskToken`,`Next`:`T`},"
      "`T`:{`Type`:`Task`,`Resource`:`test:echo`,`Parameters`:{"
      "`t.$`:`$$.Task.Token`},`End`:true}}}", "{}", "FAILED", NULL,
      "States.Runtime", NULL, NULL },
    { "Execution.Input stays the original input",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Result`:1,"
      "`ResultPath`:`$.a`,`Next`:`B`},`B`:{`Type`:`Pass`,"
      "`InputPath`:`$$.Execution.Input`,`End`:true}}}", "{`a`:0}",
      "SUCCEEDED", "{`a`:0}", NULL, NULL, NULL },
    { "Fail with paths",
      "{`StartAt`:`F`,`States`:{`F`:{`Type`:`Fail`,`ErrorPath`:`$.e`,"
      "`CausePath`:`States.Format('c={}', $.c)`}}}", "{`e`:`E1`,`c`:3}",
      "FAILED", NULL, "E1", "c=3", NULL },
    { "Fail ErrorPath not a string",
      "{`StartAt`:`F`,`States`:{`F`:{`Type`:`Fail`,`ErrorPath`:`$.e`}}}",
      "{`e`:1}", "FAILED", NULL, "States.Runtime", NULL, NULL },
    { "Succeed with paths",
      "{`StartAt`:`S`,`States`:{`S`:{`Type`:`Succeed`,`InputPath`:`$.a`,"
      "`OutputPath`:`$.b`}}}", "{`a`:{`b`:1}}", "SUCCEEDED", "1",
      NULL, NULL, NULL },
    { "scalar input", PASS(""), "`text`", "SUCCEEDED", "`text`",
      NULL, NULL, NULL },
    { "garbage task output",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,"
      "`Resource`:`test:garbage`,`End`:true}}}", "{}", "FAILED", NULL,
      "States.Runtime", NULL, NULL },
};


static const sfn_t_case_t  choice_cases[] = {

    { "StringEquals", CHOICE("`Variable`:`$.s`,`StringEquals`:`a`"),
      "{`s`:`a`}", "SUCCEEDED", "true", NULL, NULL, NULL },
    { "StringEquals type mismatch", CHOICE("`Variable`:`$.s`,"
      "`StringEquals`:`1`"), "{`s`:1}", "SUCCEEDED", "false", NULL, NULL,
      NULL },
    { "StringLessThan", CHOICE("`Variable`:`$.s`,`StringLessThan`:`b`"),
      "{`s`:`a`}", "SUCCEEDED", "true", NULL, NULL, NULL },
    { "StringGreaterThanEqualsPath", CHOICE("`Variable`:`$.s`,"
      "`StringGreaterThanEqualsPath`:`$.t`"), "{`s`:`b`,`t`:`b`}",
      "SUCCEEDED", "true", NULL, NULL, NULL },
    { "StringMatches star", CHOICE("`Variable`:`$.s`,"
      "`StringMatches`:`log-*.txt`"), "{`s`:`log-2024.txt`}",
      "SUCCEEDED", "true", NULL, NULL, NULL },
    { "StringMatches no", CHOICE("`Variable`:`$.s`,"
      "`StringMatches`:`log-*.txt`"), "{`s`:`log-2024.csv`}",
      "SUCCEEDED", "false", NULL, NULL, NULL },
    { "StringMatches escaped star", CHOICE("`Variable`:`$.s`,"
      "`StringMatches`:`a\\\\*b`"), "{`s`:`a*b`}",
      "SUCCEEDED", "true", NULL, NULL, NULL },
    { "StringMatches escaped star is literal", CHOICE("`Variable`:`$.s`,"
      "`StringMatches`:`a\\\\*b`"), "{`s`:`axxb`}",
      "SUCCEEDED", "false", NULL, NULL, NULL },
    { "StringMatches several stars", CHOICE("`Variable`:`$.s`,"
      "`StringMatches`:`*a*b*`"), "{`s`:`xxaxxbxx`}",
      "SUCCEEDED", "true", NULL, NULL, NULL },
    { "NumericGreaterThanPath", CHOICE("`Variable`:`$.n`,"
      "`NumericGreaterThanPath`:`$.m`"), "{`n`:2,`m`:1.5}",
      "SUCCEEDED", "true", NULL, NULL, NULL },
    { "NumericLessThanEquals", CHOICE("`Variable`:`$.n`,"
      "`NumericLessThanEquals`:2"), "{`n`:2}", "SUCCEEDED", "true",
      NULL, NULL, NULL },
    { "BooleanEquals", CHOICE("`Variable`:`$.b`,`BooleanEquals`:false"),
      "{`b`:false}", "SUCCEEDED", "true", NULL, NULL, NULL },
    { "TimestampEquals across offsets", CHOICE("`Variable`:`$.t`,"
      "`TimestampEquals`:`2020-01-01T01:00:00+01:00`"),
      "{`t`:`2020-01-01T00:00:00Z`}", "SUCCEEDED", "true", NULL, NULL,
      NULL },
    { "TimestampGreaterThan fractions", CHOICE("`Variable`:`$.t`,"
      "`TimestampGreaterThan`:`2020-01-01T00:00:00.5Z`"),
      "{`t`:`2020-01-01T00:00:00.500000001Z`}", "SUCCEEDED", "true",
      NULL, NULL, NULL },
    { "Timestamp operator on a non-timestamp", CHOICE("`Variable`:`$.t`,"
      "`TimestampLessThan`:`2020-01-01T00:00:00Z`"), "{`t`:`soon`}",
      "SUCCEEDED", "false", NULL, NULL, NULL },
    { "IsTimestamp", CHOICE("`Variable`:`$.t`,`IsTimestamp`:true"),
      "{`t`:`2016-03-14T01:59:00Z`}", "SUCCEEDED", "true", NULL, NULL,
      NULL },
    { "IsTimestamp without zone", CHOICE("`Variable`:`$.t`,"
      "`IsTimestamp`:true"), "{`t`:`2016-03-14T01:59:00`}", "SUCCEEDED",
      "false", NULL, NULL, NULL },
    { "IsNull", CHOICE("`Variable`:`$.v`,`IsNull`:true"), "{`v`:null}",
      "SUCCEEDED", "true", NULL, NULL, NULL },
    { "IsNumeric false", CHOICE("`Variable`:`$.v`,`IsNumeric`:false"),
      "{`v`:`1`}", "SUCCEEDED", "true", NULL, NULL, NULL },
    { "IsPresent false on a missing field", CHOICE("`Variable`:`$.nope`,"
      "`IsPresent`:false"), "{}", "SUCCEEDED", "true", NULL, NULL, NULL },
    { "And Or Not", CHOICE("`And`:[{`Variable`:`$.a`,`NumericEquals`:1},"
      "{`Or`:[{`Variable`:`$.b`,`StringEquals`:`x`},{`Not`:{`Variable`:"
      "`$.c`,`IsPresent`:true}}]}]"), "{`a`:1,`b`:`y`}", "SUCCEEDED",
      "true", NULL, NULL, NULL },
    { "missing variable is a runtime error",
      CHOICE("`Variable`:`$.nope`,`NumericEquals`:1"), "{}", "FAILED",
      NULL, "States.Runtime", "Invalid path '$.nope'", NULL },
    { "And stops at the first false",
      CHOICE("`And`:[{`Variable`:`$.a`,`IsPresent`:true},{`Variable`:"
      "`$.a`,`NumericEquals`:1}]"), "{}", "SUCCEEDED", "false", NULL,
      NULL, NULL },
    { "no match and no Default",
      "{`StartAt`:`C`,`States`:{`C`:{`Type`:`Choice`,`Choices`:[{"
      "`Variable`:`$.a`,`IsNull`:true,`Next`:`Y`}]},`Y`:{`Type`:"
      "`Succeed`}}}", "{`a`:1}", "FAILED", NULL, "States.NoChoiceMatched",
      NULL, NULL },
    { "Choice InputPath and OutputPath",
      "{`StartAt`:`C`,`States`:{`C`:{`Type`:`Choice`,`InputPath`:`$.x`,"
      "`OutputPath`:`$.y`,`Choices`:[{`Variable`:`$.y`,`NumericEquals`:1,"
      "`Next`:`S`}]},`S`:{`Type`:`Succeed`}}}", "{`x`:{`y`:1}}",
      "SUCCEEDED", "1", NULL, NULL, NULL },
};


/*
 * Audit against AWS's recorded causes (issue 11): invalid Wait paths name
 * the path and the value read; bracket names keep a backslash that does
 * not escape the quote or itself.
 */

#define WAIT(field)                                                           \
    "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`" field "`:`$.v`,"        \
    "`End`:true}}}"

#define AT  "An error occurred while executing the state 'W' (entered at " \
            "the event id #2). "

static const sfn_t_case_t  audit_cases[] = {

    { "SecondsPath negative", WAIT("SecondsPath"), "{`v`:-1}", "FAILED",
      NULL, "States.Runtime", AT "The SecondsPath parameter references a "
      "negative value: $.v == -1", NULL },
    { "SecondsPath not an integer", WAIT("SecondsPath"), "{`v`:1.5}",
      "FAILED", NULL, "States.Runtime", AT "The SecondsPath parameter "
      "cannot be parsed as a long value: $.v == 1.5", NULL },
    { "SecondsPath negative and not an integer", WAIT("SecondsPath"),
      "{`v`:-1.5}", "FAILED", NULL, "States.Runtime", AT "The SecondsPath "
      "parameter cannot be parsed as a long value: $.v == -1.5", NULL },
    { "SecondsPath a string", WAIT("SecondsPath"), "{`v`:`x`}", "FAILED",
      NULL, "States.Runtime", AT "The SecondsPath parameter cannot be "
      "parsed as a long value: $.v == x", NULL },
    { "SecondsPath missing", WAIT("SecondsPath"), "{}", "FAILED", NULL,
      "States.Runtime", AT "The SecondsPath parameter does not reference "
      "an input value: $.v", NULL },
    { "SecondsPath 0", WAIT("SecondsPath"), "{`v`:0}", "SUCCEEDED",
      "{`v`:0}", NULL, NULL, NULL },
    { "TimestampPath without Z", WAIT("TimestampPath"),
      "{`v`:`2016-12-05T21:29:29`}", "FAILED", NULL, "States.Runtime",
      AT "The TimestampPath parameter does not reference a valid ISO-8601 "
      "extended offset date-time format string: $.v == 2016-12-05T21:29:29",
      NULL },
    { "TimestampPath without T", WAIT("TimestampPath"),
      "{`v`:`2016-12-05 21:29:29Z`}", "FAILED", NULL, "States.Runtime",
      "format string: $.v == 2016-12-05 21:29:29Z", NULL },
    { "TimestampPath bad month", WAIT("TimestampPath"),
      "{`v`:`2016-13-05T21:29:29Z`}", "FAILED", NULL, "States.Runtime",
      "format string: $.v == 2016-13-05T21:29:29Z", NULL },
    { "TimestampPath a number", WAIT("TimestampPath"), "{`v`:5}", "FAILED",
      NULL, "States.Runtime", "format string: $.v == 5", NULL },
    { "SecondsPath past 32 bits", WAIT("SecondsPath"),
      "{`v`:2147483648}", "FAILED", NULL, "States.Runtime",
      AT "Wait state delay is too long.", NULL },
    { "TimestampPath 24,856 days ahead", WAIT("TimestampPath"),
      "{`v`:`2094-12-20T00:00:00Z`}", "FAILED", NULL, "States.Runtime",
      AT "Wait state delay is too long.", NULL },
    { "TimestampPath fractions", WAIT("TimestampPath"),
      "{`v`:`2016-12-05T21:29:29.00Z`}", "SUCCEEDED", NULL, NULL, NULL,
      NULL },

    { "bracket name with a backslash",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Pass`,`Parameters`:{"
      "`v.$`:`$['a\\\\\\`b']`},`End`:true}}}", "{`a\\\\\\`b`:1}",
      "SUCCEEDED", "{`v`:1}", NULL, NULL, NULL },
    { "bracket name with an escaped quote",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Pass`,`Parameters`:{"
      "`v.$`:`$['it\\\\'s']`},`End`:true}}}", "{`it's`:2}",
      "SUCCEEDED", "{`v`:2}", NULL, NULL, NULL },
    { "bracket name with an escaped backslash",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Pass`,`Parameters`:{"
      "`v.$`:`$['a\\\\\\\\b']`},`End`:true}}}", "{`a\\\\b`:3}",
      "SUCCEEDED", "{`v`:3}", NULL, NULL, NULL },
};


SFN_T_TABLE(test_io, io_cases)
SFN_T_TABLE(test_audit, audit_cases)
SFN_T_TABLE(test_choice, choice_cases)


static void
test_api(void **state)
{
    sfn_t_host_t     h;
    sfn_host_t       host;
    sfn_diag_t       d;
    sfn_exec_t      *e;
    sfn_machine_t   *m;
    sfn_exec_conf_t  conf;
    const char      *def, *error, *cause;

    (void) state;

    sfn_t_host_init(&h, &host);

    def = "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\","
          "\"Seconds\":5,\"Next\":\"T\"},\"T\":{\"Type\":\"Task\","
          "\"Resource\":\"test:never\",\"End\":true}}}";

    m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
    assert_non_null(m);

    memset(&conf, 0, sizeof(conf));

    e = sfn_exec_create(m, &host, &conf, "{bad", 4, &error, &cause);
    assert_null(e);
    assert_non_null(error);

    e = sfn_exec_create(m, &host, &conf, "{}", 2, &error, &cause);
    assert_non_null(e);

    sfn_exec_set_data(e, &h);
    assert_ptr_equal(sfn_exec_get_data(e), &h);

    assert_int_equal(sfn_exec_start(e), SFN_RUNNING);
    assert_string_equal(sfn_exec_current_state(e), "W");

    /* stale and unknown ids are ignored */
    assert_int_equal(sfn_exec_timer(e, 999), SFN_RUNNING);
    assert_int_equal(sfn_exec_task_succeeded(e, 999, "{}", 2), SFN_RUNNING);

    assert_int_equal(sfn_t_step(&h, e), 1);
    assert_string_equal(sfn_exec_current_state(e), "T");

    assert_int_equal(sfn_exec_stop(e, "Stopped", "by the test"),
                     SFN_ABORTED);
    assert_string_equal(sfn_exec_error(e), "Stopped");
    assert_null(sfn_exec_output(e));
    assert_int_equal(h.tasks_cancelled, 1);
    assert_non_null(strstr(h.events, "ExecutionAborted"));
    assert_string_equal(sfn_status_name(SFN_TIMED_OUT), "TIMED_OUT");

    sfn_exec_free(e);
    sfn_machine_free(m);
    sfn_t_host_free(&h);
}


static void
test_yield(void **state)
{
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    /*
     * 60,000 laps of two states: the engine must hand control back.
     * Express, as a Standard execution ends at 25,000 events.
     */
    h->type = SFN_EXPRESS;
    d = sfn_t_unquote("{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,"
                      "`Parameters`:{`n.$`:`States.MathAdd($.n, 1)`},"
                      "`Next`:`C`},`C`:{`Type`:`Choice`,`Choices`:[{"
                      "`Variable`:`$.n`,`NumericGreaterThanEquals`:60000,"
                      "`Next`:`S`}],`Default`:`A`},`S`:{`Type`:`Succeed`}}}");

    sfn_t_run(h, d, "{\"n\":0}", &r);
    free(d);

    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_string_equal(r.output, "{\"n\":60000}");
    assert_true(h->timers_armed >= 2);
    assert_true(h->ids_ok);

    sfn_t_result_free(&r);
    free(h);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_io),
        cmocka_unit_test(test_choice),
        cmocka_unit_test(test_audit),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_yield),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}


/*
 * Copyright (C) ngx_sfn authors
 *
 * Map and Parallel: result order, ItemsPath, ItemSelector and the older
 * Parameters, Iterator, MaxConcurrency(Path), tolerated failures (count,
 * percentage, paths), ItemBatcher, and failure propagation.
 */


#include "sfn_test.h"


#define MAP(fields, proc)                                                     \
    "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`," fields                     \
    "`ItemProcessor`:{`StartAt`:`I`,`States`:{" proc "}},`End`:true}}}"

#define PASS_I  "`I`:{`Type`:`Pass`,`End`:true}"

#define FAIL_ON_NEG                                                           \
    "`I`:{`Type`:`Choice`,`Choices`:[{`Variable`:`$`,`NumericLessThan`:0,"   \
    "`Next`:`F`}],`Default`:`OK`},`F`:{`Type`:`Fail`,`Error`:`Neg`,"         \
    "`Cause`:`negative`},`OK`:{`Type`:`Pass`,`End`:true}"


static const sfn_t_case_t  map_cases[] = {

    { "map identity", MAP("", PASS_I), "[1,2,3]",
      "SUCCEEDED", "[1,2,3]", NULL, NULL, NULL },

    { "map empty", MAP("", PASS_I), "[]",
      "SUCCEEDED", "[]", NULL, NULL,
      "ExecutionStarted,MapStateEntered,MapStateStarted,MapStateSucceeded,"
      "MapStateExited,ExecutionSucceeded" },

    { "map ItemsPath and ResultPath",
      MAP("`ItemsPath`:`$.xs`,`ResultPath`:`$.ys`,",
          "`I`:{`Type`:`Pass`,`Parameters`:{`v.$`:`$`},`End`:true}"),
      "{`xs`:[1,2]}",
      "SUCCEEDED", "{`xs`:[1,2],`ys`:[{`v`:1},{`v`:2}]}", NULL, NULL, NULL },

    { "map ItemSelector and context",
      MAP("`ItemsPath`:`$.xs`,`ItemSelector`:{`i.$`:`$$.Map.Item.Index`,"
          "`v.$`:`$$.Map.Item.Value`,`k.$`:`$.k`,`c`:1},", PASS_I),
      "{`xs`:[`a`,`b`],`k`:9}",
      "SUCCEEDED", "[{`i`:0,`v`:`a`,`k`:9,`c`:1},{`i`:1,`v`:`b`,`k`:9,`c`:1}]",
      NULL, NULL, NULL },

    { "map legacy Parameters and Iterator",
      "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`Parameters`:{"
      "`v.$`:`$$.Map.Item.Value`},`Iterator`:{`StartAt`:`I`,`States`:{"
      PASS_I "}},`End`:true}}}",
      "[5]",
      "SUCCEEDED", "[{`v`:5}]", NULL, NULL, NULL },

    { "map ResultSelector",
      MAP("`ResultSelector`:{`n.$`:`States.ArrayLength($)`},", PASS_I),
      "[1,2,3]",
      "SUCCEEDED", "{`n`:3}", NULL, NULL, NULL },

    { "map of tasks keeps item order whatever finishes first",
      MAP("`ItemSelector`:{`seconds.$`:`$$.Map.Item.Value`},",
          "`I`:{`Type`:`Task`,`Resource`:`test:sleep`,`OutputPath`:"
          "`$.seconds`,`End`:true}"),
      "[5,1,3,0]",
      "SUCCEEDED", "[5,1,3,0]", NULL, NULL, NULL },

    { "map MaxConcurrency 1 of tasks",
      MAP("`MaxConcurrency`:1,`ItemSelector`:{`seconds.$`:"
          "`$$.Map.Item.Value`},",
          "`I`:{`Type`:`Task`,`Resource`:`test:sleep`,`OutputPath`:"
          "`$.seconds`,`End`:true}"),
      "[2,1]",
      "SUCCEEDED", "[2,1]", NULL, NULL,
      "ExecutionStarted,MapStateEntered,MapStateStarted,MapIterationStarted,"
      "TaskStateEntered,TaskScheduled,TaskStarted,TaskSucceeded,"
      "TaskStateExited,MapIterationSucceeded,MapIterationStarted,"
      "TaskStateEntered,TaskScheduled,TaskStarted,TaskSucceeded,"
      "TaskStateExited,MapIterationSucceeded,MapStateSucceeded,"
      "MapStateExited,ExecutionSucceeded" },

    { "map MaxConcurrencyPath",
      MAP("`ItemsPath`:`$.xs`,`MaxConcurrencyPath`:`$.mc`,", PASS_I),
      "{`xs`:[1,2,3],`mc`:2}",
      "SUCCEEDED", "[1,2,3]", NULL, NULL, NULL },

    { "map iteration failure fails the map with its error",
      MAP("", FAIL_ON_NEG), "[1,-1,2]",
      "FAILED", NULL, "Neg", "negative", NULL },

    { "map ItemsPath not an array",
      MAP("`ItemsPath`:`$.x`,", PASS_I), "{`x`:{`a`:1}}",
      "FAILED", NULL, "States.Runtime",
      "Map state input must be an array but was: {\"a\":1}", NULL },

    { "map ItemsPath missing",
      MAP("`ItemsPath`:`$.nope`,", PASS_I), "{}",
      "FAILED", NULL, "States.Runtime", NULL, NULL },

    { "tolerated failure count not exceeded",
      MAP("`ToleratedFailureCount`:1,", FAIL_ON_NEG), "[1,-1,2]",
      "SUCCEEDED", "[1,{`Error`:`Neg`,`Cause`:`negative`},2]",
      NULL, NULL, NULL },

    { "tolerated failure count exceeded",
      MAP("`ToleratedFailureCount`:1,", FAIL_ON_NEG), "[-1,-1,2]",
      "FAILED", NULL, "States.ExceedToleratedFailureThreshold", NULL, NULL },

    { "tolerated failure count 0",
      MAP("`ToleratedFailureCount`:0,", FAIL_ON_NEG), "[-1,2]",
      "FAILED", NULL, "States.ExceedToleratedFailureThreshold", NULL, NULL },

    { "tolerated percentage not exceeded",
      MAP("`ToleratedFailurePercentage`:50,", FAIL_ON_NEG), "[-1,-2,3,4]",
      "SUCCEEDED", NULL, NULL, NULL, NULL },

    { "tolerated percentage exceeded",
      MAP("`ToleratedFailurePercentage`:50,", FAIL_ON_NEG), "[-1,-2,-3,4]",
      "FAILED", NULL, "States.ExceedToleratedFailureThreshold", NULL, NULL },

    { "tolerated count path",
      MAP("`ItemsPath`:`$.xs`,`ToleratedFailureCountPath`:`$.t`,",
          FAIL_ON_NEG), "{`xs`:[-1,-2,3],`t`:2}",
      "SUCCEEDED", NULL, NULL, NULL, NULL },

    { "tolerated percentage path exceeded",
      MAP("`ItemsPath`:`$.xs`,`ToleratedFailurePercentagePath`:`$.t`,",
          FAIL_ON_NEG), "{`xs`:[-1,-2,3],`t`:10}",
      "FAILED", NULL, "States.ExceedToleratedFailureThreshold", NULL, NULL },

    { "item batcher",
      MAP("`ItemBatcher`:{`MaxItemsPerBatch`:2,`BatchInput`:{`k`:1}},",
          PASS_I),
      "[1,2,3]",
      "SUCCEEDED",
      "[{`BatchInput`:{`k`:1},`Items`:[1,2]},{`BatchInput`:{`k`:1},`Items`:[3]}]", NULL, NULL, NULL },

    { "item batcher, JSONata",
      "{`QueryLanguage`:`JSONata`,`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,"
      "`Items`:`{% $states.input.xs %}`,"
      "`ItemBatcher`:{`MaxItemsPerBatch`:`{% $states.input.n %}`,"
      "`BatchInput`:{`k`:`{% $states.input.k * 2 %}`,`c`:1}},"
      "`ItemProcessor`:{`StartAt`:`I`,`States`:{" PASS_I "}},`End`:true}}}",
      "{`xs`:[1,2,3],`n`:2,`k`:7}",
      "SUCCEEDED",
      "[{`BatchInput`:{`k`:14,`c`:1},`Items`:[1,2]},"
      "{`BatchInput`:{`k`:14,`c`:1},`Items`:[3]}]", NULL, NULL, NULL },

    { "item batcher, JSONata BatchInput failing",
      "{`QueryLanguage`:`JSONata`,`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,"
      "`ItemBatcher`:{`MaxItemsPerBatch`:2,"
      "`BatchInput`:{`k`:`{% $states.input.k + 'x' %}`}},"
      "`ItemProcessor`:{`StartAt`:`I`,`States`:{" PASS_I "}},`End`:true}}}",
      "[1,2,3]",
      "FAILED", NULL, "States.QueryEvaluationError", NULL, NULL },

    { "nested map",
      MAP("", "`I`:{`Type`:`Map`,`ItemProcessor`:{`StartAt`:`J`,`States`:{"
          "`J`:{`Type`:`Pass`,`Parameters`:{`v.$`:`$`},`End`:true}}},"
          "`End`:true}"),
      "[[1,2],[3]]",
      "SUCCEEDED", "[[{`v`:1},{`v`:2}],[{`v`:3}]]", NULL, NULL, NULL },

    { "map with InputPath and OutputPath",
      MAP("`InputPath`:`$.d`,`ItemsPath`:`$.xs`,`OutputPath`:`$[1]`,",
          PASS_I),
      "{`d`:{`xs`:[7,8]}}",
      "SUCCEEDED", "8", NULL, NULL, NULL },
};


#define PAR(branches, extra)                                                  \
    "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Parallel`,`Branches`:["           \
    branches "]," extra "`End`:true}}}"

#define BRANCH(name, state)                                                   \
    "{`StartAt`:`" name "`,`States`:{`" name "`:" state "}}"


static const sfn_t_case_t  parallel_cases[] = {

    { "parallel results in branch order",
      PAR(BRANCH("A", "{`Type`:`Pass`,`Result`:1,`End`:true}") ","
          BRANCH("B", "{`Type`:`Task`,`Resource`:`test:sleep`,"
                      "`Parameters`:{`seconds`:3},`OutputPath`:`$.seconds`,"
                      "`End`:true}") ","
          BRANCH("C", "{`Type`:`Pass`,`Result`:3,`End`:true}"), ""),
      "{}",
      "SUCCEEDED", "[1,3,3]", NULL, NULL, NULL },

    { "each branch gets the effective input",
      PAR(BRANCH("A", "{`Type`:`Pass`,`End`:true}") ","
          BRANCH("B", "{`Type`:`Pass`,`InputPath`:`$.x`,`End`:true}"),
          "`Parameters`:{`x.$`:`$.in`},"),
      "{`in`:5}",
      "SUCCEEDED", "[{`x`:5},5]", NULL, NULL, NULL },

    { "parallel ResultSelector and ResultPath",
      PAR(BRANCH("A", "{`Type`:`Pass`,`Result`:1,`End`:true}") ","
          BRANCH("B", "{`Type`:`Pass`,`Result`:2,`End`:true}"),
          "`ResultSelector`:{`first.$`:`$[0]`},`ResultPath`:`$.r`,"),
      "{`k`:0}",
      "SUCCEEDED", "{`k`:0,`r`:{`first`:1}}", NULL, NULL, NULL },

    { "a failing branch fails the parallel and stops the others",
      PAR(BRANCH("A", "{`Type`:`Task`,`Resource`:`test:never`,"
                      "`End`:true}") ","
          BRANCH("F", "{`Type`:`Fail`,`Error`:`Bad`,`Cause`:`c`}"), ""),
      "{}",
      "FAILED", NULL, "Bad", "c", NULL },

    { "nested parallel",
      PAR(BRANCH("Q", "{`Type`:`Parallel`,`Branches`:["
                      BRANCH("R", "{`Type`:`Pass`,`End`:true}")
                      "],`End`:true}"), ""),
      "[1]",
      "SUCCEEDED", "[[[1]]]", NULL, NULL, NULL },

    { "parallel inside map inside parallel",
      PAR(BRANCH("M", "{`Type`:`Map`,`ItemProcessor`:{`StartAt`:`Q`,"
                      "`States`:{`Q`:{`Type`:`Parallel`,`Branches`:["
                      BRANCH("R", "{`Type`:`Pass`,`End`:true}") ","
                      BRANCH("S", "{`Type`:`Task`,`Resource`:`test:echo`,"
                                  "`End`:true}")
                      "],`End`:true}}},`End`:true}"), ""),
      "[1,2]",
      "SUCCEEDED", "[[[1,1],[2,2]]]", NULL, NULL, NULL },
};


/*
 * Audit against AWS's recorded causes (issue 11): MaxConcurrencyPath is
 * read before MapStateStarted, the tolerated failure paths after it; a
 * value is an integer (a float) when its text is one.
 */

#define MAPP(field)                                                           \
    "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`ItemsPath`:`$.items`,"     \
    "`" field "`:`$.v`,`ItemProcessor`:{`StartAt`:`P`,`States`:{`P`:{"      \
    "`Type`:`Pass`,`End`:true}}},`End`:true}}}"

#define MAT  "An error occurred while executing the state 'M' (entered at " \
             "the event id #2). "

static const sfn_t_case_t  map_audit_cases[] = {

    { "MaxConcurrencyPath object", MAPP("MaxConcurrencyPath"),
      "{`items`:[0],`v`:{}}", "FAILED", NULL, "States.Runtime",
      MAT "The MaxConcurrencyPath field refers to value \"{}\" which is not "
      "a valid integer: $.v",
      "ExecutionStarted,MapStateEntered,ExecutionFailed" },
    { "MaxConcurrencyPath string", MAPP("MaxConcurrencyPath"),
      "{`items`:[0],`v`:`NoNumber`}", "FAILED", NULL, "States.Runtime",
      MAT "The MaxConcurrencyPath field refers to value \"NoNumber\" which "
      "is not a valid integer: $.v", NULL },
    { "MaxConcurrencyPath float", MAPP("MaxConcurrencyPath"),
      "{`items`:[0],`v`:1.5}", "FAILED", NULL, "States.Runtime",
      "refers to value \"1.5\" which is not a valid integer", NULL },
    { "MaxConcurrencyPath integer text", MAPP("MaxConcurrencyPath"),
      "{`items`:[7],`v`:`1`}", "SUCCEEDED", "[7]", NULL, NULL, NULL },
    { "ToleratedFailureCountPath string",
      MAPP("ToleratedFailureCountPath"), "{`items`:[0],`v`:`NoNumber`}",
      "FAILED", NULL, "States.Runtime", MAT "The ToleratedFailureCountPath "
      "field refers to value \"NoNumber\" which is not a valid integer: $.v",
      "ExecutionStarted,MapStateEntered,MapStateStarted,ExecutionFailed" },
    { "ToleratedFailureCountPath negative",
      MAPP("ToleratedFailureCountPath"), "{`items`:[0],`v`:-1}", "FAILED",
      NULL, "States.Runtime", MAT "ToleratedFailureCount cannot be "
      "negative.", NULL },
    { "ToleratedFailurePercentagePath object",
      MAPP("ToleratedFailurePercentagePath"), "{`items`:[0],`v`:{}}",
      "FAILED", NULL, "States.Runtime", MAT "The "
      "ToleratedFailurePercentagePath field refers to value \"{}\" which is "
      "not a valid float: $.v", NULL },
    { "ToleratedFailurePercentagePath over 100",
      MAPP("ToleratedFailurePercentagePath"), "{`items`:[0],`v`:100.1}",
      "FAILED", NULL, "States.Runtime", MAT "ToleratedFailurePercentage "
      "must be between 0 and 100.", NULL },
    { "ToleratedFailurePercentagePath negative",
      MAPP("ToleratedFailurePercentagePath"), "{`items`:[0],`v`:-1.1}",
      "FAILED", NULL, "States.Runtime", "must be between 0 and 100.", NULL },
    { "ToleratedFailurePercentagePath 100",
      MAPP("ToleratedFailurePercentagePath"), "{`items`:[0],`v`:100}",
      "SUCCEEDED", "[0]", NULL, NULL, NULL },
    { "ItemsPath a number", MAPP("MaxConcurrencyPath"),
      "{`items`:1,`v`:0}", "FAILED", NULL, "States.Runtime",
      MAT "Map state input must be an array but was: 1", NULL },
    { "ItemsPath an object", MAPP("MaxConcurrencyPath"),
      "{`items`:{`foo`:`bar`},`v`:0}", "FAILED", NULL, "States.Runtime",
      MAT "Map state input must be an array but was: {\"foo\":\"bar\"}",
      NULL },
    { "ItemsPath missing", MAPP("MaxConcurrencyPath"), "{`v`:0}", "FAILED",
      NULL, "States.Runtime", MAT "Invalid path '$.items' : No results for "
      "path: $['items']", NULL },
};


SFN_T_TABLE(test_map_table, map_cases)
SFN_T_TABLE(test_map_audit, map_audit_cases)
SFN_T_TABLE(test_parallel_table, parallel_cases)


static void
test_abort_cancels(void **state)
{
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    /* two branches wait on tasks that never answer; the third fails */
    d = sfn_t_unquote(
        PAR(BRANCH("A", "{`Type`:`Task`,`Resource`:`test:never`,"
                        "`TimeoutSeconds`:100,`End`:true}") ","
            BRANCH("B", "{`Type`:`Task`,`Resource`:`test:never`,"
                        "`End`:true}") ","
            BRANCH("F", "{`Type`:`Wait`,`Seconds`:1,`Next`:`G`},"
                        "`G`:{`Type`:`Fail`,`Error`:`X`}"), ""));

    sfn_t_run(h, d, "{}", &r);
    free(d);

    assert_int_equal(r.status, SFN_FAILED);
    assert_string_equal(r.error, "X");
    assert_int_equal(h->tasks_cancelled, 2);
    assert_int_equal(r.elapsed_ms, 1000);
    sfn_t_result_free(&r);

    free(h);
}


static void
test_big_map(void **state)
{
    int              i;
    char            *in, *p, *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    in = malloc(100000);
    assert_non_null(in);

    p = in + sprintf(in, "[");
    for (i = 0; i < 10000; i++) {
        p += sprintf(p, "%s%d", i ? "," : "", i);
    }
    sprintf(p, "]");

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    /* 40,000 events: past a Standard execution's 25,000 */
    h->type = SFN_EXPRESS;

    d = sfn_t_unquote(MAP("`MaxConcurrency`:7,",
                          "`I`:{`Type`:`Pass`,`Parameters`:{`v.$`:`$`},"
                          "`OutputPath`:`$.v`,`End`:true}"));
    sfn_t_run(h, d, in, &r);
    free(d);

    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_true(sfn_t_json_eq(in, r.output));
    assert_true(h->ids_ok);

    sfn_t_result_free(&r);
    free(in);
    free(h);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_map_table),
        cmocka_unit_test(test_map_audit),
        cmocka_unit_test(test_parallel_table),
        cmocka_unit_test(test_abort_cancels),
        cmocka_unit_test(test_big_map),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

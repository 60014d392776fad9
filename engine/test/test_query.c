
/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata states and Variables: Arguments and Output, $states, Choice
 * Conditions, Map Items and limits from expressions, Catch Output,
 * States.QueryEvaluationError causes, Assign in both query languages,
 * scopes, evaluation order, limits, and assignedVariables on StateExited.
 */


#include "sfn_test.h"


#define JSONATA(states, start)                                                \
    "{`QueryLanguage`:`JSONata`,`StartAt`:`" start "`,`States`:{" states "}}"


static const sfn_t_case_t  query_cases[] = {

    { "Output of a Pass",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:{`n`:`{% $states.input.a * 2 %}`,"
              "`s`:`{% $uppercase($states.input.b) %}`,`lit`:`b`},"
              "`End`:true}", "A"),
      "{`a`:21,`b`:`x`}", "SUCCEEDED", "{`n`:42,`s`:`X`,`lit`:`b`}", NULL,
      NULL, NULL },

    { "a Pass without Output passes its input",
      JSONATA("`A`:{`Type`:`Pass`,`End`:true}", "A"), "{`a`:1}",
      "SUCCEEDED", "{`a`:1}", NULL, NULL, NULL },

    { "Arguments, $states.result and Output of a Task",
      JSONATA("`T`:{`Type`:`Task`,`Resource`:`test:echo`,`Arguments`:{"
              "`x`:`{% $states.input.v + 1 %}`},`Output`:{`r`:"
              "`{% $states.result.x %}`,`i`:`{% $states.input.v %}`},"
              "`End`:true}", "T"),
      "{`v`:1}", "SUCCEEDED", "{`r`:2,`i`:1}", NULL, NULL, NULL },

    { "a Task's result is its output by default",
      JSONATA("`T`:{`Type`:`Task`,`Resource`:`test:echo`,`Arguments`:"
              "`{% {'k': 'v'} %}`,`End`:true}", "T"),
      "{}", "SUCCEEDED", "{`k`:`v`}", NULL, NULL, NULL },

    { "TimeoutSeconds from an expression",
      JSONATA("`T`:{`Type`:`Task`,`Resource`:`test:sleep`,`Arguments`:{"
              "`seconds`:10},`TimeoutSeconds`:`{% $states.input.t %}`,"
              "`End`:true}", "T"),
      "{`t`:2}", "FAILED", NULL, "States.Timeout", NULL, NULL },

    { "TimeoutSeconds not a number",
      JSONATA("`T`:{`Type`:`Task`,`Resource`:`test:echo`,`TimeoutSeconds`:"
              "`{% 'x' %}`,`End`:true}", "T"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError",
      "The JSONata expression ''x'' specified for the field "
      "'TimeoutSeconds' returned an unexpected result type. Expected "
      "'number', but was 'string' for value: \"x\"", NULL },

    { "Catch: $states.errorOutput, Output and Assign",
      JSONATA("`T`:{`Type`:`Task`,`Resource`:`test:fail`,`Arguments`:{"
              "`Error`:`E`,`Cause`:`C`},`Catch`:[{`ErrorEquals`:[`E`],"
              "`Assign`:{`err`:`{% $states.errorOutput.Error %}`},"
              "`Output`:{`in`:`{% $states.input.v %}`,`c`:"
              "`{% $states.errorOutput.Cause %}`},`Next`:`P`}],`End`:true},"
              "`P`:{`Type`:`Pass`,`Output`:{`e`:`{% $err %}`,`o`:"
              "`{% $states.input %}`},`End`:true}", "T"),
      "{`v`:7}", "SUCCEEDED", "{`e`:`E`,`o`:{`in`:7,`c`:`C`}}", NULL, NULL,
      NULL },

    { "a catcher's output is the error output by default",
      JSONATA("`T`:{`Type`:`Task`,`Resource`:`test:fail`,`Arguments`:{"
              "`Error`:`E`,`Cause`:`C`},`Catch`:[{`ErrorEquals`:["
              "`States.ALL`],`Next`:`P`}],`End`:true},"
              "`P`:{`Type`:`Pass`,`End`:true}", "T"),
      "{}", "SUCCEEDED", "{`Error`:`E`,`Cause`:`C`}", NULL, NULL, NULL },

    { "Choice: the first true Condition, its Output",
      JSONATA("`C`:{`Type`:`Choice`,`Choices`:[{`Condition`:"
              "`{% $states.input.n > 5 %}`,`Next`:`Big`,`Output`:"
              "`{% 'big' %}`},{`Condition`:true,`Next`:`Small`}],"
              "`Default`:`Big`},`Big`:{`Type`:`Succeed`},"
              "`Small`:{`Type`:`Succeed`,`Output`:`{% 'small' %}`}", "C"),
      "{`n`:9}", "SUCCEEDED", "`big`", NULL, NULL, NULL },

    { "Choice: a Condition that is not a boolean",
      JSONATA("`C`:{`Type`:`Choice`,`Choices`:[{`Condition`:"
              "`{% $states.input.n %}`,`Next`:`S`}]},`S`:{`Type`:`Succeed`}",
              "C"),
      "{`n`:1}", "FAILED", NULL, "States.QueryEvaluationError",
      "The JSONata expression '$states.input.n' specified for the field "
      "'Condition' returned an unexpected result type. Expected 'boolean', "
      "but was 'number' for value: 1", NULL },

    { "Choice: the Default takes the state's Assign and Output",
      JSONATA("`C`:{`Type`:`Choice`,`Choices`:[{`Condition`:false,"
              "`Next`:`S`,`Assign`:{`v`:1}}],`Default`:`S`,`Assign`:{`v`:2},"
              "`Output`:{`d`:true}},`S`:{`Type`:`Succeed`,`Output`:"
              "`{% [$states.input.d, $v] %}`}", "C"),
      "{}", "SUCCEEDED", "[true,2]", NULL, NULL, NULL },

    { "Wait Seconds and Timestamp from expressions",
      JSONATA("`W`:{`Type`:`Wait`,`Seconds`:`{% $states.input.s %}`,"
              "`Next`:`X`},`X`:{`Type`:`Wait`,`Timestamp`:"
              "`{% $states.input.t %}`,`Output`:`{% 'done' %}`,`End`:true}",
              "W"),
      "{`s`:3,`t`:`2000-01-01T00:00:00Z`}", "SUCCEEDED", "`done`", NULL,
      NULL, NULL },

    { "Wait Timestamp not a timestamp",
      JSONATA("`W`:{`Type`:`Wait`,`Timestamp`:`{% 'soon' %}`,`End`:true}",
              "W"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError",
      "Expected 'timestamp', but was 'string'", NULL },

    { "Fail Error and Cause from expressions",
      JSONATA("`F`:{`Type`:`Fail`,`Error`:`{% 'E.' & $states.input.k %}`,"
              "`Cause`:`{% $string($states.input) %}`}", "F"),
      "{`k`:`x`}", "FAILED", NULL, "E.x", "{\"k\":\"x\"}", NULL },

    { "Map: Items, ItemSelector with the context, MaxConcurrency",
      JSONATA("`M`:{`Type`:`Map`,`Items`:`{% $states.input.xs[$ > 1] %}`,"
              "`ItemSelector`:{`v`:`{% $states.context.Map.Item.Value %}`,"
              "`i`:`{% $states.context.Map.Item.Index %}`},`MaxConcurrency`:"
              "`{% 1 %}`,`ItemProcessor`:{`StartAt`:`P`,`States`:{`P`:{"
              "`Type`:`Pass`,`End`:true}}},`End`:true}", "M"),
      "{`xs`:[1,2,3]}", "SUCCEEDED", "[{`v`:2,`i`:0},{`v`:3,`i`:1}]", NULL,
      NULL, NULL },

    { "Map: Items of an expression that is not an array",
      JSONATA("`M`:{`Type`:`Map`,`Items`:`{% $states.input %}`,"
              "`ItemProcessor`:{`StartAt`:`P`,`States`:{`P`:{`Type`:`Pass`,"
              "`End`:true}}},`End`:true}", "M"),
      "{`a`:1}", "FAILED", NULL, "States.QueryEvaluationError",
      "(entered at the event id #2). The JSONata expression "
      "'$states.input' specified for the field 'Items' returned an "
      "unexpected result type. Expected 'array', but was 'object' for "
      "value: {\"a\":1}", NULL },

    { "Map: ToleratedFailureCount from an expression",
      JSONATA("`M`:{`Type`:`Map`,`Items`:[1,2,3],`ToleratedFailureCount`:"
              "`{% 1 %}`,`ItemProcessor`:{`StartAt`:`F`,`States`:{`F`:{"
              "`Type`:`Fail`,`Error`:`X`}}},`End`:true}", "M"),
      "{}", "FAILED", NULL, "States.ExceedToleratedFailureThreshold", NULL,
      NULL },

    { "Parallel: Arguments for every branch, results, Output",
      JSONATA("`P`:{`Type`:`Parallel`,`Arguments`:{`v`:"
              "`{% $states.input.v %}`},`Branches`:[{`StartAt`:`A`,"
              "`States`:{`A`:{`Type`:`Pass`,`Output`:`{% $states.input.v + 1 "
              "%}`,`End`:true}}},{`StartAt`:`B`,`States`:{`B`:{`Type`:`Pass`,"
              "`End`:true}}}],`Output`:`{% $states.result %}`,`End`:true}",
              "P"),
      "{`v`:1}", "SUCCEEDED", "[2,{`v`:1}]", NULL, NULL, NULL },

    { "an evaluation error: code and message",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:{`x`:`{% $nosuch(1) %}`},"
              "`End`:true}", "A"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError",
      "An error occurred while executing the state 'A' (entered at the "
      "event id #2). The JSONata expression '$nosuch(1)' specified for the "
      "field 'Output/x' threw an error during evaluation. T1006: Attempted "
      "to invoke a non-function", NULL },

    { "an undefined result",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:`{% $states.input.nothing %}`,"
              "`End`:true}", "A"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError",
      "returned nothing (undefined).", NULL },

    { "a function result",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:`{% $sum %}`,`End`:true}", "A"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError",
      "specified for the field 'Output' returned an unsupported result "
      "type.", NULL },

    { "$eval is refused",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:`{% $eval('1') %}`,`End`:true}",
              "A"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError", "T1006", NULL },

    { "a query error is caught",
      JSONATA("`T`:{`Type`:`Task`,`Resource`:`test:echo`,`Arguments`:"
              "`{% $error('no') %}`,`Catch`:[{`ErrorEquals`:["
              "`States.QueryEvaluationError`],`Output`:"
              "`{% $states.errorOutput.Error %}`,`Next`:`S`}],`End`:true},"
              "`S`:{`Type`:`Succeed`}", "T"),
      "{}", "SUCCEEDED", "`States.QueryEvaluationError`", NULL, NULL, NULL },

    { "Step Functions' functions",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:{`p`:`{% $partition([1,2,3,4,5], "
              "2) %}`,`r`:`{% $range(0, 10, 5) %}`,`one`:`{% $range(3, 4, 9) "
              "%}`,`h`:`{% $hash('Hash this string', 'SHA-256') %}`,`m`:"
              "`{% $hash('', 'MD5') %}`,`j`:`{% $parse('{\\\"a\\\":[1,true]}') "
              "%}`,`s`:`{% $random(7) = $random(7) %}`,`u`:"
              "`{% $length($uuid()) %}`,`x`:`{% $random() < 1 %}`},"
              "`End`:true}", "A"),
      "{}", "SUCCEEDED",
      "{`p`:[[1,2],[3,4],[5]],`r`:[0,5,10],`one`:3,`h`:`1cac63f39fd68d8c531f"
      "27b807610fb3d50f0fc3f186995767fb6316e7200a3e`,`m`:`d41d8cd98f00b204e98"
      "00998ecf8427e`,`j`:{`a`:[1,true]},`s`:true,`u`:36,`x`:true}", NULL,
      NULL, NULL },

    { "$parse of invalid JSON",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:`{% $parse('{') %}`,`End`:true}",
              "A"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError",
      "The argument of $parse is not valid JSON", NULL },

    { "$hash of an unknown algorithm",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:`{% $hash('a', 'SHA-3') %}`,"
              "`End`:true}", "A"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError", "algorithm",
      NULL },

    { "$range over 1000 items",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:`{% $range(1, 1001, 1) %}`,"
              "`End`:true}", "A"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError", "1000", NULL },

    { "an expression that loops forever stops",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:`{% ($f := function($n) "
              "{ $f($n + 1) }; $f(0)) %}`,`End`:true}", "A"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError", NULL, NULL },

    { "an expression that builds without end stops",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:`{% $count([1..10000000]) %}`,"
              "`End`:true}", "A"),
      "{}", "FAILED", NULL, "States.QueryEvaluationError", NULL, NULL },

    /* Variables */

    { "JSONPath: Assign, then $name in paths and intrinsic functions",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Result`:{`r`:1},"
      "`Assign`:{`x.$`:`$.r`,`lit`:`$.r`,`f.$`:`States.Format('{}-{}', "
      "$.r, $$.State.Name)`},`Next`:`B`},`B`:{`Type`:`Pass`,`Parameters`:{"
      "`x.$`:`$x`,`l.$`:`$lit`,`f.$`:`States.Format('{}!', $f)`},"
      "`End`:true}}}",
      "{}", "SUCCEEDED", "{`x`:1,`l`:`$.r`,`f`:`1-A!`}", NULL, NULL, NULL },

    { "JSONPath: Assign sees the result, OutputPath the old values",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Assign`:{`v`:1},"
      "`Next`:`B`},`B`:{`Type`:`Pass`,`Result`:{`n`:2},`Assign`:{`v.$`:"
      "`$.n`},`ResultPath`:`$.res`,`OutputPath`:`$v`,`Next`:`C`},"
      "`C`:{`Type`:`Pass`,`Parameters`:{`was.$`:`$`,`now.$`:`$v`},"
      "`End`:true}}}",
      "{}", "SUCCEEDED", "{`was`:1,`now`:2}", NULL, NULL, NULL },

    { "JSONPath: Choice Variable and Assign of the matched rule",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Assign`:{`n`:3},"
      "`Next`:`C`},`C`:{`Type`:`Choice`,`Choices`:[{`Variable`:`$n`,"
      "`NumericGreaterThan`:2,`Assign`:{`m`:`big`},`Next`:`S`}],"
      "`Assign`:{`m`:`default`},`Default`:`S`},`S`:{`Type`:`Pass`,"
      "`Parameters`:{`m.$`:`$m`},`End`:true}}}",
      "{}", "SUCCEEDED", "{`m`:`big`}", NULL, NULL, NULL },

    { "JSONPath: a variable that does not exist",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Parameters`:{`x.$`:"
      "`$nosuch`},`End`:true}}}",
      "{}", "FAILED", NULL, "States.Runtime", "$nosuch", NULL },

    { "JSONPath: catcher Assign sees the error output",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:fail`,"
      "`Parameters`:{`Error`:`E`,`Cause`:`C`},`Catch`:[{`ErrorEquals`:["
      "`E`],`Assign`:{`c.$`:`$.Cause`},`ResultPath`:null,`Next`:`P`}],"
      "`End`:true},`P`:{`Type`:`Pass`,`Parameters`:{`c.$`:`$c`},"
      "`End`:true}}}",
      "{}", "SUCCEEDED", "{`c`:`C`}", NULL, NULL, NULL },

    { "Assign of a failed state is dropped",
      JSONATA("`T`:{`Type`:`Task`,`Resource`:`test:echo`,`Assign`:{`v`:1},"
              "`Output`:`{% $error('x') %}`,`Catch`:[{`ErrorEquals`:["
              "`States.ALL`],`Next`:`P`}],`End`:true},"
              "`P`:{`Type`:`Pass`,`Output`:`{% $exists($v) %}`,`End`:true}",
              "T"),
      "{}", "SUCCEEDED", "false", NULL, NULL, NULL },

    { "JSONata: Assign sees the entry values, not each other",
      JSONATA("`A`:{`Type`:`Pass`,`Assign`:{`a`:1,`b`:2},`Next`:`B`},"
              "`B`:{`Type`:`Pass`,`Assign`:{`a`:`{% $b %}`,`b`:`{% $a %}`},"
              "`Output`:`{% [$a, $b] %}`,`Next`:`C`},"
              "`C`:{`Type`:`Pass`,`Output`:`{% {'in': $states.input, 'a': $a, "
              "'b': $b} %}`,`End`:true}", "A"),
      "{}", "SUCCEEDED", "{`in`:[1,2],`a`:2,`b`:1}", NULL, NULL, NULL },

    { "scopes: read inside, no leak out of Map and Parallel",
      JSONATA("`A`:{`Type`:`Pass`,`Assign`:{`x`:1},`Next`:`M`},"
              "`M`:{`Type`:`Map`,`Items`:[1,2],`ItemProcessor`:{`StartAt`:"
              "`I`,`States`:{`I`:{`Type`:`Pass`,`Assign`:{`x`:"
              "`{% $x + $states.input %}`,`y`:1},`Next`:`J`},`J`:{"
              "`Type`:`Pass`,`Output`:`{% $x %}`,`End`:true}}},"
              "`Next`:`P`},`P`:{`Type`:`Parallel`,`Branches`:[{`StartAt`:"
              "`B`,`States`:{`B`:{`Type`:`Pass`,`Assign`:{`x`:9},"
              "`Output`:`{% $x %}`,`End`:true}}}],`Assign`:{`r`:"
              "`{% $states.result %}`},`Next`:`Z`},"
              "`Z`:{`Type`:`Pass`,`Output`:`{% {'x': $x, 'r': $r, 'in': "
              "$states.input, 'y': $exists($y)} %}`,`End`:true}", "A"),
      "{}", "SUCCEEDED", "{`x`:1,`r`:[1],`in`:[1],`y`:false}", NULL, NULL,
      NULL },

    { "a distributed Map's iterations do not see outer variables",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Assign`:{`x`:1},"
      "`Next`:`M`},`M`:{`Type`:`Map`,`ItemProcessor`:{`ProcessorConfig`:{"
      "`Mode`:`DISTRIBUTED`,`ExecutionType`:`STANDARD`},`StartAt`:`I`,"
      "`States`:{`I`:{`Type`:`Pass`,`Parameters`:{`x.$`:`$x`},"
      "`End`:true}}},`End`:true}}}",
      "[1]", "FAILED", NULL, "States.ExceedToleratedFailureThreshold", NULL,
      NULL },

    { "a variable over 256 KiB",
      JSONATA("`A`:{`Type`:`Pass`,`Assign`:{`big`:"
              "`{% $join([1..30000].('abcdefghi'), '') %}`},`End`:true}",
              "A"),
      "{}", "FAILED", NULL, "States.DataLimitExceeded",
      "The variable 'big' has a size exceeding", NULL },

    { "one Assign over 256 KiB",
      JSONATA("`A`:{`Type`:`Pass`,`Assign`:{`a`:"
              "`{% $join([1..15000].('abcdefghi'), '') %}`,`b`:"
              "`{% $join([1..15000].('abcdefghi'), '') %}`},`End`:true}",
              "A"),
      "{}", "FAILED", NULL, "States.DataLimitExceeded", "combined", NULL },

    { "variables over 10 MiB in all",
      JSONATA("`M`:{`Type`:`Map`,`Items`:`{% [1..50] %}`,`ItemProcessor`:{"
              "`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Assign`:{`big`:"
              "`{% $join([1..26000].('abcdefghi'), '') %}`},`Next`:`W`},"
              "`W`:{`Type`:`Wait`,`Seconds`:1,`End`:true}}},`End`:true}",
              "M"),
      "{}", "FAILED", NULL, "States.DataLimitExceeded",
      "The variables of the execution have a combined size", NULL },

    /* outputs refer to their input's arrays and objects (sfn_payload.c) */
    { "arrays and objects passed on whole, state after state",
      "{`StartAt`:`A`,`States`:{"
      "`A`:{`Type`:`Pass`,`QueryLanguage`:`JSONata`,`Output`:{`items`:"
      "`{% $states.input.items %}`,`o`:`{% $states.input.o %}`,"
      "`n`:`{% $states.input.n + 1 %}`},`Next`:`B`},"
      "`B`:{`Type`:`Pass`,`QueryLanguage`:`JSONata`,"
      "`Output`:`{% $states.input %}`,`Next`:`C`},"
      "`C`:{`Type`:`Pass`,`QueryLanguage`:`JSONata`,`Output`:{"
      "`a`:`{% $states.input.items %}`,`b`:`{% $states.input.items[1] %}`,"
      "`o`:`{% $states.input.o %}`},`Next`:`D`},"
      "`D`:{`Type`:`Pass`,`Result`:`r`,`ResultPath`:`$.o.added`,"
      "`Next`:`E`},"
      "`E`:{`Type`:`Pass`,`QueryLanguage`:`JSONata`,`Output`:{"
      "`all`:`{% $states.input %}`,`o`:`{% $states.input.o %}`},"
      "`End`:true}}}",
      "{`items`:[{`k`:1},{`k`:[2,{`x`:`y`}]}],`o`:{`p`:{`q`:[]}},`n`:1}",
      "SUCCEEDED",
      "{`all`:{`a`:[{`k`:1},{`k`:[2,{`x`:`y`}]}],`b`:{`k`:[2,{`x`:`y`}]},"
      "`o`:{`p`:{`q`:[]},`added`:`r`}},`o`:{`p`:{`q`:[]},`added`:`r`}}",
      NULL, NULL, NULL },

    { "an object whose keys JSONata reorders is copied in its order",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:`{% $states.input %}`,"
              "`End`:true}", "A"),
      "{`b`:1,`1`:2,`c`:{`b`:1,`b`:2}}", "SUCCEEDED",
      "{`1`:2,`b`:1,`c`:{`b`:2}}", NULL, NULL, NULL },

    { "an array passed on twice over 256 KiB",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:{`big`:"
              "`{% [1..12000].('abcdefghi') %}`},`Next`:`B`},"
              "`B`:{`Type`:`Pass`,`Output`:{`a`:`{% $states.input.big %}`,"
              "`b`:`{% $states.input.big %}`},`End`:true}", "A"),
      "{}", "FAILED", NULL, "States.DataLimitExceeded", NULL, NULL },

    { "a small object passed on thrice, beside a large array",
      JSONATA("`A`:{`Type`:`Pass`,`Output`:{`big`:"
              "`{% [1..12000].('abcdefghi') %}`,`s`:{`t`:[1]}},`Next`:`B`},"
              "`B`:{`Type`:`Pass`,`Output`:{`a`:`{% $states.input.s %}`,"
              "`b`:`{% $states.input.s %}`,`c`:`{% $states.input.s %}`},"
              "`End`:true}", "A"),
      "{}", "SUCCEEDED", "{`a`:{`t`:[1]},`b`:{`t`:[1]},`c`:{`t`:[1]}}",
      NULL, NULL, NULL },
};


SFN_T_TABLE(test_query, query_cases)


static void
test_assigned_variables(void **state)
{
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    h->full_events = 1;

    d = sfn_t_unquote("{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,"
                      "`Assign`:{`s`:`t`,`o.$`:`$`},`Next`:`B`},"
                      "`B`:{`Type`:`Pass`,`End`:true}}}");

    sfn_t_run(h, d, "{\"in\":[1]}", &r);
    free(d);

    assert_int_equal(r.status, SFN_SUCCEEDED);

    /* each value as JSON text, as AWS shows them */
    assert_non_null(strstr(h->details,
        "3/2 {\"stateExitedEventDetails\":{\"name\":\"A\",\"output\":"
        "\"{\\\"in\\\":[1]}\",\"outputDetails\":{\"truncated\":false},"
        "\"assignedVariables\":{\"s\":\"\\\"t\\\"\",\"o\":\"{\\\"in\\\":"
        "[1]}\"},\"assignedVariablesDetails\":{\"truncated\":false}}}"));
    assert_non_null(strstr(h->details,
        "5/4 {\"stateExitedEventDetails\":{\"name\":\"B\",\"output\":"
        "\"{\\\"in\\\":[1]}\",\"outputDetails\":{\"truncated\":false}}}"));

    sfn_t_result_free(&r);
    free(h);

    /* a lazy host gets such an event with its details built */
    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    h->full_events = 1;
    h->lazy = 1;

    d = sfn_t_unquote("{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,"
                      "`Assign`:{`s`:1},`End`:true}}}");

    sfn_t_run(h, d, "{}", &r);
    free(d);

    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_non_null(strstr(h->details, "\"assignedVariables\":{\"s\":"
                                       "\"1\"}"));

    sfn_t_result_free(&r);
    free(h);
}


/*
 * The same with events kept, holding the payloads: an output that refers
 * to its input's nodes outlives them, and a JSONPath state changing its
 * input changes a copy, not the output the history holds.
 */
static void
test_lent_outputs(void **state)
{
    char            *d;
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    h->full_events = 1;
    h->lazy = 1;
    h->keep = 1;

    d = sfn_t_unquote(query_cases[sizeof(query_cases) / sizeof(query_cases[0]) - 4].definition);

    sfn_t_run(h, d, "{\"items\":[{\"k\":1},{\"k\":2}],\"o\":{\"p\":[2]},"
              "\"n\":1}", &r);
    free(d);

    assert_int_equal(r.status, SFN_SUCCEEDED);
    assert_non_null(strstr(r.output, "\"added\":\"r\""));
    assert_non_null(strstr(h->details,
        "\"name\":\"C\",\"output\":\"{\\\"a\\\":[{\\\"k\\\":1},"
        "{\\\"k\\\":2}],\\\"b\\\":{\\\"k\\\":2},\\\"o\\\":{\\\"p\\\":[2]}}\""));

    sfn_t_result_free(&r);
    free(h);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_assigned_variables),
        cmocka_unit_test(test_lent_outputs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

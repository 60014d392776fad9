
/*
 * Copyright (C) ngx_sfn authors
 *
 * Definition validation: every row must be rejected with the AWS
 * diagnostic code, naming the state, with a reason containing the given
 * text; and the glue's "file, state, reason" needs all three filled in.
 */


#include "sfn_test.h"


#define ONE(state)  "{`StartAt`:`A`,`States`:{`A`:" state "}}"

/* a distributed Map with more fields */
#define DMAP(fields)                                                        \
    ONE("{`Type`:`Map`,`End`:true,`ItemProcessor`:{`ProcessorConfig`:{"     \
        "`Mode`:`DISTRIBUTED`},`StartAt`:`P`,`States`:{`P`:{`Type`:`Pass`," \
        "`End`:true}}}," fields "}")
#define READ(config)                                                        \
    "`ItemReader`:{`Resource`:`arn:aws:states:::s3:getObject`,"             \
    "`Parameters`:{`Bucket`:`b`,`Key`:`k`},`ReaderConfig`:{" config "}}"


static const sfn_t_case_t  invalid_cases[] = {

    { "not JSON", "{`StartAt`:", NULL, "INVALID", NULL,
      "INVALID_JSON_DESCRIPTION", NULL, NULL },
    { "trailing garbage", "{`StartAt`:`A`} x", NULL, "INVALID", NULL,
      "INVALID_JSON_DESCRIPTION", NULL, NULL },
    { "not an object", "[]", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", NULL, NULL },
    { "missing StartAt", "{`States`:{`A`:{`Type`:`Succeed`}}}", NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "StartAt", NULL },
    { "missing States", "{`StartAt`:`A`}", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "States", NULL },
    { "empty States", "{`StartAt`:`A`,`States`:{}}", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", NULL, NULL },
    { "StartAt names no state", "{`StartAt`:`B`,`States`:{`A`:{"
      "`Type`:`Succeed`}}}", NULL, "INVALID", NULL,
      "MISSING_TRANSITION_TARGET", "B", NULL },
    { "Next names no state",
      ONE("{`Type`:`Pass`,`Next`:`Nowhere`}"), NULL, "INVALID", NULL,
      "MISSING_TRANSITION_TARGET", "Nowhere", NULL },
    { "neither Next nor End", ONE("{`Type`:`Pass`}"), NULL, "INVALID",
      NULL, "SCHEMA_VALIDATION_FAILED", "Next", NULL },
    { "both Next and End",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Next`:`B`,`End`:true},"
      "`B`:{`Type`:`Succeed`}}}", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "mutually exclusive", NULL },
    { "unknown Type", ONE("{`Type`:`Lambda`,`End`:true}"), NULL, "INVALID",
      NULL, "SCHEMA_VALIDATION_FAILED", "Type", NULL },
    { "missing Type", ONE("{`End`:true}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "Type", NULL },
    { "unknown resource",
      ONE("{`Type`:`Task`,`Resource`:`arn:aws:lambda:x`,`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "is not recognized",
      NULL },
    { "Task without Resource", ONE("{`Type`:`Task`,`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "Resource", NULL },
    { "unknown field", ONE("{`Type`:`Pass`,`Bogus`:1,`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "Bogus", NULL },
    { "Pass with Retry", ONE("{`Type`:`Pass`,`Retry`:[],`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "Retry", NULL },
    { "Choice with End",
      ONE("{`Type`:`Choice`,`Choices`:[{`Variable`:`$`,`IsNull`:true,"
          "`Next`:`A`}],`End`:true}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "End", NULL },
    { "unknown QueryLanguage", "{`QueryLanguage`:`XPath`,`StartAt`:`A`,"
      "`States`:{`A`:{`Type`:`Succeed`}}}", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "QueryLanguage", NULL },
    { "a JSONPath state in a JSONata machine",
      "{`QueryLanguage`:`JSONata`,`StartAt`:`A`,`States`:{`A`:{"
      "`Type`:`Pass`,`QueryLanguage`:`JSONPath`,`End`:true}}}", NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "JSONPath", NULL },
    { "Parameters in a JSONata state",
      ONE("{`Type`:`Pass`,`QueryLanguage`:`JSONata`,`Parameters`:{},"
          "`End`:true}"), NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED",
      "'Parameters' is not supported by a state that uses the JSONata",
      NULL },
    { "ResultPath in a JSONata catcher",
      "{`QueryLanguage`:`JSONata`,`StartAt`:`T`,`States`:{`T`:{"
      "`Type`:`Task`,`Resource`:`test:echo`,`Catch`:[{`ErrorEquals`:["
      "`States.ALL`],`ResultPath`:`$.e`,`Next`:`F`}],`End`:true},"
      "`F`:{`Type`:`Fail`}}}", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "ResultPath", NULL },
    { "Output in a JSONPath state",
      ONE("{`Type`:`Pass`,`Output`:{},`End`:true}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED",
      "'Output' is not supported by a state that uses the JSONPath", NULL },
    { "Condition in a JSONPath choice rule",
      ONE("{`Type`:`Choice`,`Choices`:[{`Condition`:true,`Next`:`A`}]}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "Condition", NULL },
    { "a JSONata choice rule without Condition",
      ONE("{`Type`:`Choice`,`QueryLanguage`:`JSONata`,`Choices`:[{"
          "`Next`:`A`}]}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "Condition", NULL },
    { "a JSONata syntax error",
      ONE("{`Type`:`Pass`,`QueryLanguage`:`JSONata`,`Output`:{`a`:"
          "`{% $states.input. %}`},`End`:true}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "specified for the field 'Output/a' is "
      "not valid", NULL },
    { "Items neither array nor expression",
      "{`QueryLanguage`:`JSONata`,`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,"
      "`Items`:{},`ItemProcessor`:{`StartAt`:`A`,`States`:{`A`:{"
      "`Type`:`Succeed`}}},`End`:true}}}", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "Items", NULL },
    { "Assign not an object",
      ONE("{`Type`:`Pass`,`Assign`:[1],`End`:true}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "Assign", NULL },
    { "a variable name starting with a digit",
      ONE("{`Type`:`Pass`,`Assign`:{`1x`:1},`End`:true}"), NULL, "INVALID",
      NULL, "SCHEMA_VALIDATION_FAILED", "variable name '1x'", NULL },
    { "a variable name with a dot",
      ONE("{`Type`:`Pass`,`Assign`:{`a.b`:1},`End`:true}"), NULL, "INVALID",
      NULL, "SCHEMA_VALIDATION_FAILED", "variable name 'a.b'", NULL },
    { "the variable states",
      ONE("{`Type`:`Pass`,`QueryLanguage`:`JSONata`,`Assign`:{`states`:1},"
          "`End`:true}"), NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED",
      "variable name 'states'", NULL },
    { "a variable name of 81 characters",
      ONE("{`Type`:`Pass`,`Assign`:{`a1234567890123456789012345678901234567"
          "8901234567890123456789012345678901234567890`:1},`End`:true}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "variable name",
      NULL },
    { "an empty variable name",
      ONE("{`Type`:`Pass`,`Assign`:{`.$`:`$`},`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "variable name", NULL },
    { "a variable name with invalid UTF-8",
      ONE("{`Type`:`Pass`,`Assign`:{`a\xff`:1},`End`:true}"), NULL,
      "INVALID", NULL, "INVALID_JSON_DESCRIPTION", NULL, NULL },
    { "a variable name with a NUL",
      ONE("{`Type`:`Pass`,`Assign`:{`a\\u0000`:1},`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "variable name", NULL },
    { "a variable as ResultPath",
      ONE("{`Type`:`Pass`,`ResultPath`:`$x`,`End`:true}"), NULL, "INVALID",
      NULL, "SCHEMA_VALIDATION_FAILED", "ResultPath", NULL },
    { "bad InputPath", ONE("{`Type`:`Pass`,`InputPath`:`a.b`,`End`:true}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "InputPath", NULL },
    { "ResultPath not a reference path",
      ONE("{`Type`:`Pass`,`ResultPath`:`$.a[*]`,`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "ReferencePath", NULL },
    { "ResultPath into the context",
      ONE("{`Type`:`Pass`,`ResultPath`:`$$.a`,`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "ReferencePath", NULL },
    { "bad parameter path",
      ONE("{`Type`:`Pass`,`Parameters`:{`a.$`:`nope`},`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "a.$", NULL },
    { "parameter path not a string",
      ONE("{`Type`:`Pass`,`Parameters`:{`a.$`:1},`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "a.$", NULL },
    { "Retry without ErrorEquals",
      ONE("{`Type`:`Task`,`Resource`:`test:echo`,`Retry`:[{}],`End`:true}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "ErrorEquals",
      NULL },
    { "States.ALL not last",
      ONE("{`Type`:`Task`,`Resource`:`test:echo`,`Retry`:[{`ErrorEquals`:"
          "[`States.ALL`]},{`ErrorEquals`:[`E`]}],`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "States.ALL", NULL },
    { "States.ALL not alone",
      ONE("{`Type`:`Task`,`Resource`:`test:echo`,`Catch`:[{`ErrorEquals`:"
          "[`States.ALL`,`E`],`Next`:`A`}],`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "States.ALL", NULL },
    { "BackoffRate below 1",
      ONE("{`Type`:`Task`,`Resource`:`test:echo`,`Retry`:[{`ErrorEquals`:"
          "[`E`],`BackoffRate`:0.5}],`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "BackoffRate", NULL },
    { "negative MaxAttempts",
      ONE("{`Type`:`Task`,`Resource`:`test:echo`,`Retry`:[{`ErrorEquals`:"
          "[`E`],`MaxAttempts`:-1}],`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "MaxAttempts", NULL },
    { "bad JitterStrategy",
      ONE("{`Type`:`Task`,`Resource`:`test:echo`,`Retry`:[{`ErrorEquals`:"
          "[`E`],`JitterStrategy`:`HALF`}],`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "JitterStrategy", NULL },
    { "Catch Next names no state",
      ONE("{`Type`:`Task`,`Resource`:`test:echo`,`Catch`:[{`ErrorEquals`:"
          "[`E`],`Next`:`Z`}],`End`:true}"), NULL,
      "INVALID", NULL, "MISSING_TRANSITION_TARGET", "Z", NULL },
    { "HeartbeatSeconds not below TimeoutSeconds",
      ONE("{`Type`:`Task`,`Resource`:`test:echo`,`TimeoutSeconds`:5,"
          "`HeartbeatSeconds`:5,`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "HeartbeatSeconds", NULL },
    { "TimeoutSeconds and its Path",
      ONE("{`Type`:`Task`,`Resource`:`test:echo`,`TimeoutSeconds`:5,"
          "`TimeoutSecondsPath`:`$.t`,`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },
    { "Wait with two forms",
      ONE("{`Type`:`Wait`,`Seconds`:1,`SecondsPath`:`$.s`,`End`:true}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "exactly one",
      NULL },
    { "Wait with a bad Timestamp",
      ONE("{`Type`:`Wait`,`Timestamp`:`2020-13-01T00:00:00Z`,`End`:true}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "Timestamp", NULL },
    { "Fail with Error and ErrorPath",
      ONE("{`Type`:`Fail`,`Error`:`E`,`ErrorPath`:`$.e`}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "mutually exclusive",
      NULL },
    { "Choice without Choices", ONE("{`Type`:`Choice`}"), NULL, "INVALID",
      NULL, "SCHEMA_VALIDATION_FAILED", "Choices", NULL },
    { "Choice rule with two operators",
      ONE("{`Type`:`Choice`,`Choices`:[{`Variable`:`$`,`IsNull`:true,"
          "`IsString`:true,`Next`:`A`}]}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "exactly one", NULL },
    { "Choice rule without Next",
      ONE("{`Type`:`Choice`,`Choices`:[{`Variable`:`$`,`IsNull`:true}]}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "Next", NULL },
    { "nested rule with Next",
      ONE("{`Type`:`Choice`,`Choices`:[{`Not`:{`Variable`:`$`,`IsNull`:"
          "true,`Next`:`A`},`Next`:`A`}]}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "Next", NULL },
    { "operator value of the wrong type",
      ONE("{`Type`:`Choice`,`Choices`:[{`Variable`:`$`,`NumericEquals`:"
          "`1`,`Next`:`A`}]}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "NUMBER", NULL },
    { "bad timestamp operand",
      ONE("{`Type`:`Choice`,`Choices`:[{`Variable`:`$`,`TimestampEquals`:"
          "`yesterday`,`Next`:`A`}]}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "RFC3339", NULL },
    { "unknown operator",
      ONE("{`Type`:`Choice`,`Choices`:[{`Variable`:`$`,`StringContains`:"
          "`x`,`Next`:`A`}]}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "StringContains", NULL },
    { "Choice Default names no state",
      ONE("{`Type`:`Choice`,`Choices`:[{`Variable`:`$`,`IsNull`:true,"
          "`Next`:`A`}],`Default`:`Q`}"), NULL, "INVALID", NULL,
      "MISSING_TRANSITION_TARGET", "Q", NULL },
    { "Parallel without Branches", ONE("{`Type`:`Parallel`,`End`:true}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "Branches", NULL },
    { "branch Next leaves the branch",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Parallel`,`Branches`:[{"
      "`StartAt`:`X`,`States`:{`X`:{`Type`:`Pass`,`Next`:`Out`}}}],"
      "`Next`:`Out`},`Out`:{`Type`:`Succeed`}}}", NULL, "INVALID", NULL,
      "MISSING_TRANSITION_TARGET", "Out", NULL },
    { "duplicate state name across branches",
      "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Parallel`,`Branches`:[{"
      "`StartAt`:`P`,`States`:{`P`:{`Type`:`Succeed`}}}],`End`:true}}}",
      NULL, "INVALID", NULL, "DUPLICATE_STATE_NAME", "P", NULL },
    { "Map without a processor", ONE("{`Type`:`Map`,`End`:true}"), NULL,
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "ItemProcessor", NULL },
    { "Map with a bad mode",
      ONE("{`Type`:`Map`,`ItemProcessor`:{`ProcessorConfig`:{`Mode`:`X`},"
          "`StartAt`:`I`,`States`:{`I`:{`Type`:`Succeed`}}},`End`:true}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", "Mode", NULL },
    { "Map percentage over 100",
      ONE("{`Type`:`Map`,`ToleratedFailurePercentage`:101,`ItemProcessor`:{"
          "`StartAt`:`I`,`States`:{`I`:{`Type`:`Succeed`}}},`End`:true}"),
      NULL, "INVALID", NULL, "SCHEMA_VALIDATION_FAILED",
      "ToleratedFailurePercentage", NULL },
    { "unreachable state",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Succeed`},"
      "`B`:{`Type`:`Succeed`}}}", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "not reachable", NULL },
    { "no terminal state",
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Next`:`B`},"
      "`B`:{`Type`:`Pass`,`Next`:`A`}}}", NULL, "INVALID", NULL,
      "MISSING_END_STATE", NULL, NULL },
    { "state name too long",
      "{`StartAt`:`aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaa`,`States`:{`aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`:{"
      "`Type`:`Succeed`}}}", NULL, "INVALID", NULL, "INVALID_STATE_NAME",
      NULL, NULL },
    { "bad Version", "{`Version`:`2.0`,`StartAt`:`A`,`States`:{`A`:{"
      "`Type`:`Succeed`}}}", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "Version", NULL },
    { "bad top-level TimeoutSeconds", "{`TimeoutSeconds`:0,`StartAt`:`A`,"
      "`States`:{`A`:{`Type`:`Succeed`}}}", NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "TimeoutSeconds", NULL },

    /* ReaderConfig and WriterConfig, as the ItemReader and ResultWriter
       pages document them */

    { "Transformation AWS lacks", DMAP("`ResultWriter`:{`WriterConfig`:{"
      "`Transformation`:`ALL`}}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "NONE, COMPACT or FLATTEN", NULL },
    { "OutputType AWS lacks", DMAP("`ResultWriter`:{`WriterConfig`:{"
      "`OutputType`:`XML`}}"), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "JSON or JSONL", NULL },
    { "empty ResultWriter", DMAP("`ResultWriter`:{}"), NULL, "INVALID",
      NULL, "SCHEMA_VALIDATION_FAILED", "cannot be empty", NULL },
    { "S3_INVENTORY with InputType", DMAP(READ("`ManifestType`:"
      "`S3_INVENTORY`,`InputType`:`CSV`")), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "must not be given", NULL },
    { "ATHENA_DATA of JSON", DMAP(READ("`ManifestType`:`ATHENA_DATA`,"
      "`InputType`:`JSON`")), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "CSV, JSONL or PARQUET", NULL },
    { "CSVDelimiter of JSONL", DMAP(READ("`InputType`:`JSONL`,"
      "`CSVDelimiter`:`TAB`")), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "CSV or MANIFEST", NULL },
    { "CSVHeaders without GIVEN", DMAP(READ("`InputType`:`CSV`,"
      "`CSVHeaders`:[`a`]")), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "only supported with CSVHeaderLocation",
      NULL },
    { "ItemsPointer of JSONL", DMAP(READ("`InputType`:`JSONL`,"
      "`ItemsPointer`:`/a`")), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "JSON InputType", NULL },
    { "ReaderConfig field AWS lacks", DMAP(READ("`InputType`:`JSON`,"
      "`Compression`:`GZIP`")), NULL, "INVALID", NULL,
      "SCHEMA_VALIDATION_FAILED", "Compression", NULL },
};


static const sfn_t_case_t  valid_cases[] = {
    { "Version 1.0 and Comment", "{`Comment`:`c`,`Version`:`1.0`,"
      "`TimeoutSeconds`:5,`StartAt`:`A`,`States`:{`A`:{`Type`:`Succeed`,"
      "`Comment`:`x`}}}", "{}", "SUCCEEDED", "{}", NULL, NULL, NULL },
    { "QueryLanguage JSONPath", "{`QueryLanguage`:`JSONPath`,`StartAt`:`A`,"
      "`States`:{`A`:{`Type`:`Pass`,`QueryLanguage`:`JSONPath`,"
      "`End`:true}}}", "{}", "SUCCEEDED", "{}", NULL, NULL, NULL },
    { "a JSONata state in a JSONPath machine",
      "{`QueryLanguage`:`JSONPath`,`StartAt`:`A`,`States`:{`A`:{"
      "`Type`:`Pass`,`QueryLanguage`:`JSONata`,`Output`:`{% 1 + 1 %}`,"
      "`End`:true}}}", "{}", "SUCCEEDED", "2", NULL, NULL, NULL },
    { "a UTF-8 variable name", ONE("{`Type`:`Pass`,`Assign`:{`caf\u00e9`:1,"
      "`_x9`:2},`End`:true}"), "{}", "SUCCEEDED", "{}", NULL, NULL, NULL },
    { "a catcher makes a state reachable",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:echo`,"
      "`Catch`:[{`ErrorEquals`:[`States.ALL`],`Next`:`H`}],`End`:true},"
      "`H`:{`Type`:`Fail`}}}", "{}", "SUCCEEDED", "{}", NULL, NULL, NULL },
};


SFN_T_TABLE(test_invalid, invalid_cases)
SFN_T_TABLE(test_valid, valid_cases)


static void
test_diag_fields(void **state)
{
    const char     *def;
    sfn_diag_t      d;
    sfn_machine_t  *m;

    (void) state;

    def = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\","
          "\"Next\":\"Probe\"}}}";

    m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
    assert_null(m);
    assert_string_equal(d.code, "MISSING_TRANSITION_TARGET");
    assert_string_equal(d.state, "A");
    assert_string_equal(d.location, "/States/A/Next");
    assert_non_null(strstr(d.message, "Probe"));

    /* not NUL-terminated: the length rules */
    def = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Succeed\"}}}XXXX";
    m = sfn_machine_load(def, strlen(def) - 4, NULL, NULL, &d);
    assert_non_null(m);
    assert_int_equal(sfn_machine_timeout_ms(m), 0);
    sfn_machine_free(m);

    m = sfn_machine_load("", 0, NULL, NULL, &d);
    assert_null(m);
    assert_string_equal(d.code, "MISSING_DESCRIPTION");

    def = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\","
          "\"Resource\":\"x:y.waitForTaskToken\",\"End\":true}}}";
    m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
    assert_non_null(m);
    assert_int_equal(sfn_machine_check_type(m, SFN_STANDARD, &d), SFN_OK);
    assert_int_equal(sfn_machine_check_type(m, SFN_EXPRESS, &d), SFN_ERROR);
    assert_non_null(strstr(d.message, ".waitForTaskToken"));
    sfn_machine_free(m);
}


/* ValidateStateMachineDefinition's list: every failed state, up to max */

static void
test_diag_all(void **state)
{
    size_t          n;
    const char     *def;
    sfn_diag_t      d[4];
    sfn_machine_t  *m;

    (void) state;

    /* two bad states, one inside a branch, and a good one */

    def = "{\"StartAt\":\"A\",\"States\":{"
          "\"A\":{\"Type\":\"Pass\",\"Bogus\":1,\"Next\":\"P\"},"
          "\"P\":{\"Type\":\"Parallel\",\"Branches\":[{\"StartAt\":\"X\","
          "\"States\":{\"X\":{\"Type\":\"Wait\",\"End\":true}}}],"
          "\"Next\":\"C\"},"
          "\"C\":{\"Type\":\"Succeed\"}}}";

    m = sfn_machine_load_all(def, strlen(def), NULL, NULL, d, 4, &n);
    assert_null(m);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].location, "/States/A/Bogus");
    assert_string_equal(d[1].state, "X");
    assert_string_equal(d[1].location, "/States/P/Branches[0]/States/X");

    /* room for one: the first only, as sfn_machine_load() gives it */

    m = sfn_machine_load_all(def, strlen(def), NULL, NULL, d, 1, &n);
    assert_null(m);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].location, "/States/A/Bogus");

    /* every missing target and every unreachable state */

    def = "{\"StartAt\":\"A\",\"States\":{"
          "\"A\":{\"Type\":\"Pass\",\"Next\":\"Nowhere\"},"
          "\"B\":{\"Type\":\"Pass\",\"Next\":\"Elsewhere\"},"
          "\"C\":{\"Type\":\"Succeed\"}}}";

    m = sfn_machine_load_all(def, strlen(def), NULL, NULL, d, 4, &n);
    assert_null(m);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].location, "/States/A/Next");
    assert_string_equal(d[1].location, "/States/B/Next");

    def = "{\"StartAt\":\"A\",\"States\":{"
          "\"A\":{\"Type\":\"Succeed\"},"
          "\"B\":{\"Type\":\"Succeed\"},"
          "\"C\":{\"Type\":\"Succeed\"}}}";

    m = sfn_machine_load_all(def, strlen(def), NULL, NULL, d, 4, &n);
    assert_null(m);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].state, "B");
    assert_string_equal(d[1].state, "C");

    /* a valid one has none */

    def = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Succeed\"}}}";
    m = sfn_machine_load_all(def, strlen(def), NULL, NULL, d, 4, &n);
    assert_non_null(m);
    assert_int_equal(n, 0);
    sfn_machine_free(m);
}


static void
count_resource(void *data, const char *resource)
{
    (*(int *) data)++;
}


static void
test_resources(void **state)
{
    int             n;
    const char     *def;
    sfn_diag_t      d;
    sfn_machine_t  *m;

    (void) state;

    def = "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\","
          "\"Branches\":[{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":"
          "\"Task\",\"Resource\":\"r1\",\"End\":true}}},{\"StartAt\":\"B\","
          "\"States\":{\"B\":{\"Type\":\"Task\",\"Resource\":\"r1\","
          "\"Next\":\"C\"},\"C\":{\"Type\":\"Task\",\"Resource\":\"r2\","
          "\"End\":true}}}],\"End\":true}}}";

    m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
    assert_non_null(m);

    n = 0;
    sfn_machine_resources(m, count_resource, &n);
    assert_int_equal(n, 2);

    sfn_machine_free(m);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_diag_fields),
        cmocka_unit_test(test_diag_all),
        cmocka_unit_test(test_resources),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

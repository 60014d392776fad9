
/*
 * Copyright (C) ngx_sfn authors
 *
 * The 18 intrinsic functions: results, and argument errors that fail with
 * States.IntrinsicFailure (or are rejected when the definition loads).
 */


#include "sfn_test.h"


#define FN(expr)                                                              \
    "{`StartAt`:`P`,`States`:{`P`:{`Type`:`Pass`,`Parameters`:{"             \
    "`r.$`:`" expr "`},`OutputPath`:`$.r`,`End`:true}}}"


static const sfn_t_case_t  fn_cases[] = {

    { "Format", FN("States.Format('a {} b {}', $.x, $.y)"),
      "{`x`:1,`y`:`s`}", "SUCCEEDED", "`a 1 b s`", NULL, NULL, NULL },
    { "Format escapes", FN("States.Format('\\\\{\\\\} {} \\\\'q\\\\'', 2)"),
      "{}", "SUCCEEDED", "`{} 2 'q'`", NULL, NULL, NULL },
    { "Format object and array",
      FN("States.Format('{} {}', $.o, $.a)"),
      "{`o`:{`k`:[1,`x`]},`a`:[true,null]}", "SUCCEEDED",
      "`{k=[1, x]} [true, null]`", NULL, NULL, NULL },
    { "Format argument count",
      FN("States.Format('{} {}', 1)"), "{}",
      "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },
    { "Format no template literal", FN("States.Format(1, 2)"), "{}",
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },

    { "StringToJson", FN("States.StringToJson($.s)"),
      "{`s`:`{\\`a\\`:[1]}`}", "SUCCEEDED", "{`a`:[1]}", NULL, NULL, NULL },
    { "StringToJson invalid", FN("States.StringToJson($.s)"),
      "{`s`:`{nope`}", "FAILED", NULL, "States.IntrinsicFailure", NULL,
      NULL },
    { "StringToJson not a string", FN("States.StringToJson($.s)"),
      "{`s`:1}", "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },
    { "JsonToString", FN("States.JsonToString($.o)"),
      "{`o`:{`a`:[1,2],`b`:null}}", "SUCCEEDED",
      "`{\\`a\\`:[1,2],\\`b\\`:null}`", NULL, NULL, NULL },

    { "Array", FN("States.Array(1, 'two', $.x, true, null)"),
      "{`x`:{`y`:1}}", "SUCCEEDED", "[1,`two`,{`y`:1},true,null]",
      NULL, NULL, NULL },
    { "Array empty", FN("States.Array()"), "{}", "SUCCEEDED", "[]",
      NULL, NULL, NULL },

    { "ArrayPartition", FN("States.ArrayPartition($.a, 2)"),
      "{`a`:[1,2,3,4,5]}", "SUCCEEDED", "[[1,2],[3,4],[5]]",
      NULL, NULL, NULL },
    { "ArrayPartition zero", FN("States.ArrayPartition($.a, 0)"),
      "{`a`:[1]}", "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },
    { "ArrayPartition not an array", FN("States.ArrayPartition($.a, 1)"),
      "{`a`:1}", "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },

    { "ArrayContains", FN("States.ArrayContains($.a, $.v)"),
      "{`a`:[1,{`k`:[2]}],`v`:{`k`:[2]}}", "SUCCEEDED", "true",
      NULL, NULL, NULL },
    { "ArrayContains no", FN("States.ArrayContains($.a, 3)"),
      "{`a`:[1,2]}", "SUCCEEDED", "false", NULL, NULL, NULL },

    { "ArrayRange", FN("States.ArrayRange(1, 9, 2)"), "{}", "SUCCEEDED",
      "[1,3,5,7,9]", NULL, NULL, NULL },
    { "ArrayRange down", FN("States.ArrayRange(5, 1, -2)"), "{}",
      "SUCCEEDED", "[5,3,1]", NULL, NULL, NULL },
    { "ArrayRange empty", FN("States.ArrayRange(5, 1, 2)"), "{}",
      "SUCCEEDED", "[]", NULL, NULL, NULL },
    { "ArrayRange step 0", FN("States.ArrayRange(1, 5, 0)"), "{}",
      "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },
    { "ArrayRange too long", FN("States.ArrayRange(0, 5000, 1)"), "{}",
      "FAILED", NULL, "States.IntrinsicFailure", "1000", NULL },
    { "ArrayRange float", FN("States.ArrayRange(0, 5.5, 1)"), "{}",
      "SUCCEEDED", "[0,1,2,3,4,5,6]", NULL, NULL, NULL },

    { "ArrayGetItem", FN("States.ArrayGetItem($.a, 1)"),
      "{`a`:[`x`,`y`]}", "SUCCEEDED", "`y`", NULL, NULL, NULL },
    { "ArrayGetItem out of bounds", FN("States.ArrayGetItem($.a, 2)"),
      "{`a`:[`x`,`y`]}", "FAILED", NULL, "States.IntrinsicFailure",
      "out of bounds", NULL },
    { "ArrayGetItem negative", FN("States.ArrayGetItem($.a, -1)"),
      "{`a`:[`x`]}", "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },

    { "ArrayLength", FN("States.ArrayLength($.a)"), "{`a`:[1,2,3]}",
      "SUCCEEDED", "3", NULL, NULL, NULL },
    { "ArrayLength not an array", FN("States.ArrayLength($.a)"),
      "{`a`:`abc`}", "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },

    { "ArrayUnique", FN("States.ArrayUnique($.a)"),
      "{`a`:[1,2,1,{`x`:1},{`x`:1},`1`]}", "SUCCEEDED",
      "[1,2,{`x`:1},`1`]", NULL, NULL, NULL },

    { "Base64Encode", FN("States.Base64Encode('Data to encode')"), "{}",
      "SUCCEEDED", "`RGF0YSB0byBlbmNvZGU=`", NULL, NULL, NULL },
    { "Base64Decode", FN("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')"),
      "{}", "SUCCEEDED", "`Data to encode`", NULL, NULL, NULL },
    { "Base64Decode one pad", FN("States.Base64Decode('YWI=')"), "{}",
      "SUCCEEDED", "`ab`", NULL, NULL, NULL },
    { "Base64Decode invalid", FN("States.Base64Decode('@@@')"), "{}",
      "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },

    { "Hash MD5", FN("States.Hash('input data', 'MD5')"), "{}",
      "SUCCEEDED", "`812f45842bc6d66ee14572ce20db8e86`", NULL, NULL, NULL },
    { "Hash SHA-1 empty", FN("States.Hash('', 'SHA-1')"), "{}",
      "SUCCEEDED", "`da39a3ee5e6b4b0d3255bfef95601890afd80709`",
      NULL, NULL, NULL },
    { "Hash SHA-256 abc", FN("States.Hash('abc', 'SHA-256')"), "{}",
      "SUCCEEDED",
      "`ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad`",
      NULL, NULL, NULL },
    { "Hash SHA-384 abc", FN("States.Hash('abc', 'SHA-384')"), "{}",
      "SUCCEEDED",
      "`cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
      "8086072ba1e7cc2358baeca134c825a7`", NULL, NULL, NULL },
    { "Hash SHA-512 abc", FN("States.Hash('abc', 'SHA-512')"), "{}",
      "SUCCEEDED",
      "`ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f`",
      NULL, NULL, NULL },
    { "Hash SHA-256 two blocks",
      FN("States.Hash('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',"
         " 'SHA-256')"), "{}",
      "SUCCEEDED",
      "`248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1`",
      NULL, NULL, NULL },
    { "Hash unknown algorithm", FN("States.Hash('x', 'SHA-3')"), "{}",
      "FAILED", NULL, "States.IntrinsicFailure", "SHA-3", NULL },

    { "JsonMerge", FN("States.JsonMerge($.a, $.b, false)"),
      "{`a`:{`x`:1,`y`:{`p`:1}},`b`:{`y`:{`q`:2},`z`:3}}", "SUCCEEDED",
      "{`x`:1,`y`:{`q`:2},`z`:3}", NULL, NULL, NULL },
    { "JsonMerge deep refused", FN("States.JsonMerge($.a, $.b, true)"),
      "{`a`:{},`b`:{}}", "FAILED", NULL, "States.IntrinsicFailure", NULL,
      NULL },
    { "JsonMerge not objects", FN("States.JsonMerge($.a, $.b, false)"),
      "{`a`:[],`b`:{}}", "FAILED", NULL, "States.IntrinsicFailure", NULL,
      NULL },

    { "MathRandom seeded is repeatable",
      FN("States.MathRandom(1, 1000, 7)"), "{}", "SUCCEEDED", NULL,
      NULL, NULL, NULL },
    { "MathRandom bad range", FN("States.MathRandom(5, 5)"), "{}",
      "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },

    { "MathAdd", FN("States.MathAdd($.a, -3)"), "{`a`:10}", "SUCCEEDED",
      "7", NULL, NULL, NULL },
    { "MathAdd rounds like Java", FN("States.MathAdd(-2.5, 1.5)"), "{}",
      "SUCCEEDED", "0", NULL, NULL, NULL },
    { "MathAdd not a number", FN("States.MathAdd('1', 2)"), "{}",
      "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },

    { "StringSplit", FN("States.StringSplit('a,b;;c', ',;')"), "{}",
      "SUCCEEDED", "[`a`,`b`,`c`]", NULL, NULL, NULL },

    { "UUID shape", FN("States.ArrayLength(States.StringSplit("
                       "States.UUID(), '-'))"), "{}",
      "SUCCEEDED", "5", NULL, NULL, NULL },

    { "nested calls",
      FN("States.ArrayGetItem(States.StringSplit($.s, '-'), "
         "States.MathAdd(States.ArrayLength(States.StringSplit($.s, '-')),"
         " -1))"),
      "{`s`:`a-b-c`}", "SUCCEEDED", "`c`", NULL, NULL, NULL },

    { "context argument", FN("States.Format('{}', $$.State.Name)"), "{}",
      "SUCCEEDED", "`P`", NULL, NULL, NULL },

    { "path argument missing", FN("States.ArrayLength($.nope)"), "{}",
      "FAILED", NULL, "States.Runtime", "$.nope", NULL },

    { "unknown function", FN("States.Nope(1)"), "{}",
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },
    { "wrong arity", FN("States.ArrayLength(1, 2)"), "{}",
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED",
      "The value for the field 'r.$' must be a valid JSONPath or a valid "
      "intrinsic function call", NULL },
    { "unterminated", FN("States.Format('x'"), "{}",
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },
    { "trailing garbage", FN("States.UUID() x"), "{}",
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },

    { "intrinsic failure is caught in a Task",
      "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:echo`,"
      "`Parameters`:{`x.$`:`States.ArrayGetItem($.a, 5)`},`Catch`:[{"
      "`ErrorEquals`:[`States.IntrinsicFailure`],`Next`:`H`}],`End`:true},"
      "`H`:{`Type`:`Pass`,`OutputPath`:`$.Error`,`End`:true}}}",
      "{`a`:[]}", "SUCCEEDED", "`States.IntrinsicFailure`", NULL, NULL,
      NULL },
};


SFN_T_TABLE(test_functions, fn_cases)


/*
 * Audit against AWS (issue 11): string-literal escapes (only \' \{ \} \\;
 * any other backslash makes the definition invalid, as AWS answers), blank
 * strings, and non-integer numbers where an integer is required, which AWS
 * rounds to the nearest integer (Java's Math.round).
 */
static const sfn_t_case_t  fn_audit_cases[] = {

    { "escaped quote", FN("States.Format('a\\\\'b {}', 1)"), "{}",
      "SUCCEEDED", "`a'b 1`", NULL, NULL, NULL },
    { "escaped braces are not placeholders",
      FN("States.Format('\\\\{\\\\}')"), "{}",
      "SUCCEEDED", "`{}`", NULL, NULL, NULL },
    { "escaped backslash", FN("States.Array('\\\\\\\\')"), "{}",
      "SUCCEEDED", "[`\\\\`]", NULL, NULL, NULL },
    { "backslash-quote is illegal",
      FN("States.StringToJson('{\\\\\\`a\\\\\\`:1}')"), "{}",
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED",
      "The value for the field 'r.$' must be a valid JSONPath or a valid "
      "intrinsic function call", NULL },
    { "backslash-n is illegal", FN("States.Format('a\\\\nb')"), "{}",
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },
    { "lone backslash at the end", FN("States.Array('a\\\\')"), "{}",
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },
    { "blank strings", FN("States.Format('[{}][{}]', '', ' ')"), "{}",
      "SUCCEEDED", "`[][ ]`", NULL, NULL, NULL },
    { "split of a blank string", FN("States.StringSplit('', ',')"), "{}",
      "SUCCEEDED", "[]", NULL, NULL, NULL },

    { "ArrayRange rounds", FN("States.ArrayRange(0.5, 4.4, 1.5)"), "{}",
      "SUCCEEDED", "[1,3]", NULL, NULL, NULL },
    { "ArrayRange step rounding to 0",
      FN("States.ArrayRange(1, 5, 0.4)"), "{}",
      "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },
    { "ArrayGetItem rounds the index",
      FN("States.ArrayGetItem($.a, 1.5)"), "{`a`:[10,20,30]}",
      "SUCCEEDED", "30", NULL, NULL, NULL },
    { "ArrayGetItem index from a path",
      FN("States.ArrayGetItem($.a, $.i)"), "{`a`:[10,20,30],`i`:0.4}",
      "SUCCEEDED", "10", NULL, NULL, NULL },
    { "ArrayGetItem string index",
      FN("States.ArrayGetItem($.a, '1')"), "{`a`:[10,20,30]}",
      "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },
    { "ArrayPartition rounds", FN("States.ArrayPartition($.a, 1.5)"),
      "{`a`:[1,2,3]}", "SUCCEEDED", "[[1,2],[3]]", NULL, NULL, NULL },
    { "ArrayPartition rounding to 0", FN("States.ArrayPartition($.a, 0.4)"),
      "{`a`:[1,2,3]}", "FAILED", NULL, "States.IntrinsicFailure", NULL,
      NULL },
    { "MathRandom rounds", FN("States.MathRandom(4.5, 5.6, 7)"), "{}",
      "SUCCEEDED", "5", NULL, NULL, NULL },
    { "MathAdd rounds", FN("States.MathAdd(-2.5, 0.5)"), "{}",
      "SUCCEEDED", "-1", NULL, NULL, NULL },
    { "MathAdd past 32 bits", FN("States.MathAdd(2147483648, 1)"), "{}",
      "FAILED", NULL, "States.IntrinsicFailure", NULL, NULL },
};


SFN_T_TABLE(test_functions_audit, fn_audit_cases)


static void
test_random_seeded(void **state)
{
    int              i;
    char            *d, first[64];
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    d = sfn_t_unquote(FN("States.MathRandom(1, 1000, 7)"));
    first[0] = '\0';

    for (i = 0; i < 3; i++) {
        h->rnd = (unsigned) i * 7919;
        sfn_t_run(h, d, "{}", &r);
        assert_int_equal(r.status, SFN_SUCCEEDED);

        if (i == 0) {
            snprintf(first, sizeof(first), "%s", r.output);
            assert_true(atoi(first) >= 1 && atoi(first) < 1000);

        } else {
            assert_string_equal(first, r.output);
        }

        sfn_t_result_free(&r);
    }

    free(d);
    free(h);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_functions_audit),
        cmocka_unit_test(test_random_seeded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}


/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata through its engine API: a program compiled once and evaluated
 * more than once, bindings, undefined results, syntax and evaluation
 * errors with their codes and messages, and the depth, time and memory
 * limits against hostile expressions.  The language itself is measured by
 * jsonata-js's corpus (make jsonata).
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sfn_jsonata.h"


typedef struct {
    const char           *expr;
    const char           *input;      /* NULL: undefined */
    const char           *result;     /* JSON; NULL: undefined or error */
    const char           *code;       /* NULL: success */
} sfn_tj_case_t;


static const sfn_tj_case_t  cases[] = {
    { "1 + 2 * 3", NULL, "7", NULL },
    { "0.1 + 0.2", NULL, "0.30000000000000004", NULL },
    { "$string(1e21) & '|' & $string(0.1 + 0.2)", NULL,
      "\"1e+21|0.3\"", NULL },
    { "a.b", "{\"a\":[{\"b\":1},{\"b\":[2,3]}]}", "[1,2,3]", NULL },
    { "a[0].b", "{\"a\":[{\"b\":1},{\"b\":2}]}", "1", NULL },
    { "a.b[]", "{\"a\":{\"b\":1}}", "[1]", NULL },
    { "nothing", "{\"a\":1}", NULL, NULL },
    { "$", NULL, NULL, NULL },
    { "a^(>n).n", "{\"a\":[{\"n\":1},{\"n\":3},{\"n\":2}]}", "[3,2,1]",
      NULL },
    { "a{k: $sum(v)}", "{\"a\":[{\"k\":\"x\",\"v\":1},{\"k\":\"y\",\"v\":2},"
      "{\"k\":\"x\",\"v\":3}]}", "{\"x\":4,\"y\":2}", NULL },
    { "a#$i[$i > 0]", "{\"a\":[5,6,7]}", "[6,7]", NULL },
    { "a.b.%.c", "{\"a\":{\"b\":1,\"c\":2}}", "2", NULL },
    { "$ ~> |a|{\"b\": 2}, [\"c\"]|", "{\"a\":{\"b\":1,\"c\":3}}",
      "{\"a\":{\"b\":2}}", NULL },
    { "($f := function($n) { $n <= 1 ? $n : $f($n - 1) }; $f(100000))",
      NULL, "1", NULL },
    { "$map([1,2,3], $string) ~> $join(',')", NULL, "\"1,2,3\"", NULL },
    { "$replace('a1b22', /[0-9]+/, function($m) { '<' & $m.match & '>' })",
      NULL, "\"a<1>b<22>\"", NULL },
    { "$fromMillis(0, '[FNn], [D1o] [MNn] [Y]')", NULL,
      "\"Thursday, 1st January 1970\"", NULL },
    { "$formatNumber(1234.5, '#,##0.00')", NULL, "\"1,234.50\"", NULL },
    { "$formatInteger(1999, 'I') & $parseInteger('twelve', 'w')", NULL,
      "\"MCMXCIX12\"", NULL },

    { "1 +", NULL, NULL, "S0207" },
    { "\"abc", NULL, NULL, "S0101" },
    { "a.(", NULL, NULL, "S0203" },
    { "$x := ", NULL, NULL, "S0207" },
    { "%", NULL, NULL, "S0217" },
    { "'a' + 1", NULL, NULL, "T2001" },
    { "1 < 'a'", NULL, NULL, "T2009" },
    { "$substring()", NULL, NULL, "T0410" },
    { "$assert(false, 'no')", NULL, NULL, "D3141" },
    { "$error('boom')", NULL, NULL, "D3137" },
    { "[1..20000000]", NULL, NULL, "D2014" },
    { "$foo()", NULL, NULL, "T1006" },

    /* hostile */
    { "($f := function($n) { $n + $f($n) }; $f(1))", NULL, NULL, "U1001" },
    /* a tail call runs in constant stack: the memory limit stops it */
    { "($f := function() { $f() }; $f())", NULL, NULL, "U1000" },
    { "$count([1..10000000].[$, $, $, $])", NULL, NULL, "U1000" },
};


static void
test_cases(void **state)
{
    int                    rc, k;
    size_t                 i;
    char                  *got;
    cJSON                 *in, *out, *want;
    sfn_jsonata_t         *prog;
    sfn_jsonata_error_t    err;
    sfn_jsonata_limits_t   limits;

    memset(&limits, 0, sizeof(limits));
    limits.timelimit = 20000;
    limits.memory = 64 * 1024 * 1024;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        prog = sfn_jsonata_compile(cases[i].expr, strlen(cases[i].expr),
                                   &err);
        if (prog == NULL) {
            if (cases[i].code == NULL
                || strcmp(err.code, cases[i].code) != 0)
            {
                fail_msg("%s: compile error %s %s", cases[i].expr, err.code,
                         err.message);
            }
            assert_non_null(err.message);
            sfn_jsonata_error_clear(&err);
            continue;
        }

        in = cases[i].input ? cJSON_Parse(cases[i].input) : NULL;

        /* the same program twice: evaluation leaves it as it was */
        for (k = 0; k < 2; k++) {
            rc = sfn_jsonata_eval(prog, in, NULL, &limits, &out, &err);

            if (cases[i].code) {
                if (rc != -1 || strcmp(err.code, cases[i].code) != 0) {
                    fail_msg("%s: want %s, got %d %s", cases[i].expr,
                             cases[i].code, rc, err.code);
                }
                assert_non_null(err.message);
                sfn_jsonata_error_clear(&err);
                continue;
            }

            if (rc != 0) {
                fail_msg("%s: %s %s", cases[i].expr, err.code, err.message);
            }

            if (cases[i].result == NULL) {
                assert_null(out);
                continue;
            }

            want = cJSON_Parse(cases[i].result);
            assert_non_null(out);
            if (!cJSON_Compare(want, out, 1)) {
                got = cJSON_PrintUnformatted(out);
                fail_msg("%s: want %s, got %s", cases[i].expr,
                         cases[i].result, got);
            }
            cJSON_Delete(want);
            cJSON_Delete(out);
        }

        cJSON_Delete(in);
        sfn_jsonata_free(prog);
    }
}


static void
test_bindings(void **state)
{
    cJSON                *b, *out;
    sfn_jsonata_t        *prog;
    sfn_jsonata_error_t   err;

    prog = sfn_jsonata_compile("$x.y & $$.z", 11, &err);
    assert_non_null(prog);

    b = cJSON_Parse("{\"x\":{\"y\":\"a\"}}");
    assert_int_equal(sfn_jsonata_eval(prog, b, b, NULL, &out, &err), 0);
    assert_string_equal(out->valuestring, "a");
    cJSON_Delete(out);
    cJSON_Delete(b);
    sfn_jsonata_free(prog);
}


static void
test_error_message(void **state)
{
    cJSON                *out;
    sfn_jsonata_t        *prog;
    sfn_jsonata_error_t   err;

    prog = sfn_jsonata_compile("(\"a\" - 1)", 9, &err);
    assert_non_null(prog);
    assert_int_equal(sfn_jsonata_eval(prog, NULL, NULL, NULL, &out, &err),
                     -1);
    assert_string_equal(err.code, "T2001");
    assert_string_equal(err.message,
                        "The left side of the \"-\" operator must evaluate to "
                        "a number");
    sfn_jsonata_error_clear(&err);
    sfn_jsonata_free(prog);

    assert_null(sfn_jsonata_compile("a.[", 3, &err));
    assert_string_equal(err.code, "S0203");
    assert_string_equal(err.message, "Expected \"]\" before end of expression");
    sfn_jsonata_error_clear(&err);
}


static void
test_hostile_syntax(void **state)
{
    size_t                i, n;
    char                 *deep;
    sfn_jsonata_t        *prog;
    sfn_jsonata_error_t   err;
    static const char     nul[] = "a\0b";
    static const char     bad[] = "\"\xff\xfe\" & /\xc3(/";

    /* nesting deep enough to exhaust a C stack is refused */
    n = 100000;
    deep = malloc(2 * n + 2);
    assert_non_null(deep);
    for (i = 0; i < n; i++) {
        deep[i] = '(';
        deep[n + i] = ')';
    }
    deep[2 * n] = '\0';
    assert_null(sfn_jsonata_compile(deep, 2 * n, &err));
    assert_string_equal(err.code, "U1001");
    sfn_jsonata_error_clear(&err);

    for (i = 0; i < n; i++) {
        deep[2 * i] = 'a';
        deep[2 * i + 1] = '.';
    }
    deep[2 * n - 1] = '\0';
    assert_null(sfn_jsonata_compile(deep, 2 * n - 1, &err));
    sfn_jsonata_error_clear(&err);
    free(deep);

    /* a NUL byte is a character like another, invalid UTF-8 too */
    prog = sfn_jsonata_compile(nul, 3, &err);
    if (prog == NULL) {
        sfn_jsonata_error_clear(&err);
    }
    sfn_jsonata_free(prog);

    prog = sfn_jsonata_compile(bad, sizeof(bad) - 1, &err);
    if (prog == NULL) {
        assert_true(err.code[0] == 'S');
        sfn_jsonata_error_clear(&err);
    }
    sfn_jsonata_free(prog);

    /* every prefix of an expression fails cleanly or compiles */
    {
        static const char  *e = "Account.Order[0].Product{`Product Name`: "
                                "$sum(Price)}^(<Price) ~> |$|{'a': [1..3]}|";

        for (i = 0; i <= strlen(e); i++) {
            prog = sfn_jsonata_compile(e, i, &err);
            if (prog == NULL) {
                assert_true(err.code[0] != '\0');
                sfn_jsonata_error_clear(&err);
            }
            sfn_jsonata_free(prog);
        }
    }
}


static void
test_time_limit(void **state)
{
    cJSON                 *out;
    sfn_jsonata_t         *prog;
    sfn_jsonata_error_t    err;
    sfn_jsonata_limits_t   limits;
    static const char     *e = "($f := function($n) { $n > 0 ? $f($n - 1) "
                               ": 0 }; [1..100000].$f(1000))";

    prog = sfn_jsonata_compile(e, strlen(e), &err);
    assert_non_null(prog);

    memset(&limits, 0, sizeof(limits));
    limits.timelimit = 50;
    assert_int_equal(sfn_jsonata_eval(prog, NULL, NULL, &limits, &out, &err),
                     -1);
    assert_string_equal(err.code, "U1001");
    assert_non_null(strstr(err.message, "timeout"));
    sfn_jsonata_error_clear(&err);
    sfn_jsonata_free(prog);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_bindings),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_hostile_syntax),
        cmocka_unit_test(test_time_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

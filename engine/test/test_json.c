
/*
 * JSON text into and out of the engine: strict UTF-8, no raw control
 * characters in strings, and U+0000 kept inside strings (carried as C0 80
 * by the engine, written back as \u0000), through the parser, the printer
 * and a whole execution.
 */


#include "sfn_test.h"
#include "sfn_core.h"


static const struct {
    const char  *name;
    const char  *in;
    size_t       len;       /* 0: strlen(in) */
    const char  *out;       /* NULL: rejected */
} json_rows[] = {

    { "NUL inside a string", "{\"a\":\"x\\u0000y\"}", 0,
      "{\"a\":\"x\\u0000y\"}" },
    { "NUL alone", "\"\\u0000\"", 0, "\"\\u0000\"" },
    { "NUL in a key", "{\"a\\u0000b\":1}", 0, "{\"a\\u0000b\":1}" },
    { "two NULs and text", "[\"\\u0000\\u0000z\"]", 0,
      "[\"\\u0000\\u0000z\"]" },
    { "an escaped backslash before u0000", "\"\\\\u0000\"", 0,
      "\"\\\\u0000\"" },
    { "other escapes", "\"\\u0001\\n\\\"\\u00e9\"", 0,
      "\"\\u0001\\n\\\"\xc3\xa9\"" },
    { "multi-byte UTF-8", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 0,
      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"" },
    { "the engine's own NUL bytes", "\"a\xc0\x80z\"", 0,
      "\"a\\u0000z\"" },

    { "invalid byte", "{\"a\":\"\xff\"}", 0, NULL },
    { "lone continuation byte", "\"\x80\"", 0, NULL },
    { "overlong slash", "\"\xc0\xaf\"", 0, NULL },
    { "overlong three bytes", "\"\xe0\x80\xaf\"", 0, NULL },
    { "UTF-16 surrogate", "\"\xed\xa0\x80\"", 0, NULL },
    { "past U+10FFFF", "\"\xf4\x90\x80\x80\"", 0, NULL },
    { "truncated sequence", "\"\xe2\x82\"", 0, NULL },
    { "truncated at the end", "\"a\xe2", 0, NULL },
    { "raw control character in a string", "\"a\x01z\"", 0, NULL },
    { "raw newline in a string", "\"a\nz\"", 0, NULL },
    { "raw NUL in a string", "\"a\0z\"", 5, NULL },
    { "trailing garbage", "{} x", 0, NULL },
    { "lone surrogate escape", "\"\\ud800\"", 0, NULL },

    /* RFC 8259 numbers, literals and structure, as AWS's Jackson reads */
    { "numbers", "[0,-0,12,-3.5,1e3,1E-2,2.5e+1,123456789012345]", 0,
      "[0,0,12,-3.5,1000,0.01,25,123456789012345]" },
    { "long integer", "12345678901234567890", 0,
      "1.2345678901234567e+19" },
    { "huge exponent", "1e400", 0, "null" },
    { "leading zero", "01", 0, NULL },
    { "negative leading zero", "-01", 0, NULL },
    { "point without digits", "1.", 0, NULL },
    { "exponent without digits", "1e", 0, NULL },
    { "leading point", ".5", 0, NULL },
    { "leading plus", "+1", 0, NULL },
    { "lone minus", "-", 0, NULL },
    { "hexadecimal", "0x1f", 0, NULL },
    { "literals", "[true,false,null]", 0, "[true,false,null]" },
    { "truncated literal", "nul", 0, NULL },
    { "literal in capitals", "True", 0, NULL },
    { "white space", " \t\r\n{ \"a\" : [ 1 , 2 ] }\n", 0,
      "{\"a\":[1,2]}" },
    { "control character as white space", "\x0b{}", 0, NULL },
    { "NUL as white space", "{}\0", 3, NULL },
    { "byte order mark", "\xef\xbb\xbf[1]", 0, "[1]" },
    { "empty text", "", 0, NULL },
    { "white space only", "  ", 0, NULL },
    { "unclosed array", "[1,2", 0, NULL },
    { "unclosed object", "{\"a\":1", 0, NULL },
    { "unclosed string", "\"abc", 0, NULL },
    { "trailing comma", "[1,]", 0, NULL },
    { "missing colon", "{\"a\" 1}", 0, NULL },
    { "unquoted key", "{a:1}", 0, NULL },
    { "two values", "1 2", 0, NULL },
    { "duplicate keys kept", "{\"a\":1,\"a\":2}", 0,
      "{\"a\":1,\"a\":2}" },
    { "surrogate pair", "\"\\ud83d\\ude00\"", 0, "\"\xf0\x9f\x98\x80\"" },
    { "low surrogate first", "\"\\ude00\\ud83d\"", 0, NULL },
    { "high surrogate then text", "\"\\ud83dx\"", 0, NULL },
    { "bad escape", "\"\\x\"", 0, NULL },
    { "short unicode escape", "\"\\u12\"", 0, NULL },
    { "all escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0,
      "\"\\\"\\\\/\\b\\f\\n\\r\\t\"" },
    { "commas and brackets in strings", "[\",[{\",{\"x,\":\"]}\"}]", 0,
      "[\",[{\",{\"x,\":\"]}\"}]" },
};


/* row i parsed into v (NULL: rejected), as the row wants */
static void
json_row_check(size_t i, const cJSON *v, const char *how)
{
    char  *out;

    if (json_rows[i].out == NULL) {
        if (v != NULL) {
            fail_msg("%s (%s): accepted", json_rows[i].name, how);
        }

        return;
    }

    if (v == NULL) {
        fail_msg("%s (%s): rejected", json_rows[i].name, how);
    }

    out = sfn_json_print(v);
    assert_non_null(out);

    if (strcmp(out, json_rows[i].out) != 0) {
        fail_msg("%s (%s): printed %s", json_rows[i].name, how, out);
    }

    free(out);
}


/* each row parsed as cJSON nodes, and into one block as an input is */
static void
test_json_text(void **state)
{
    cJSON          *v;
    size_t          i, len;
    sfn_payload_t  *p;

    (void) state;

    for (i = 0; i < sizeof(json_rows) / sizeof(json_rows[0]); i++) {
        len = json_rows[i].len ? json_rows[i].len : strlen(json_rows[i].in);

        v = sfn_json_parse(json_rows[i].in, len);
        json_row_check(i, v, "nodes");
        cJSON_Delete(v);

        p = sfn_payload_parse(json_rows[i].in, len);
        json_row_check(i, p ? sfn_payload_json(p) : NULL, "block");
        sfn_payload_release(p);
    }
}


/* containers nest at most CJSON_NESTING_LIMIT deep, as cJSON's parser */
static void
test_json_depth(void **state)
{
    char           *s;
    cJSON          *v;
    size_t          n, i;
    sfn_payload_t  *p;

    (void) state;

    for (n = CJSON_NESTING_LIMIT; n <= CJSON_NESTING_LIMIT + 1; n++) {
        s = malloc(2 * n);
        assert_non_null(s);

        for (i = 0; i < n; i++) {
            s[i] = '[';
            s[2 * n - 1 - i] = ']';
        }

        v = sfn_json_parse(s, 2 * n);
        p = sfn_payload_parse(s, 2 * n);

        if (n == CJSON_NESTING_LIMIT) {
            assert_non_null(v);
            assert_non_null(p);

        } else {
            assert_null(v);
            assert_null(p);
        }

        cJSON_Delete(v);
        sfn_payload_release(p);
        free(s);
    }
}


static void
test_utf8_valid(void **state)
{
    (void) state;

    assert_true(sfn_utf8_valid("", 0));
    assert_true(sfn_utf8_valid("abc\xc3\xa9", 5));
    assert_true(sfn_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    assert_false(sfn_utf8_valid("\xc0\x80", 2));
    assert_false(sfn_utf8_valid("\xed\xbf\xbf", 3));
    assert_false(sfn_utf8_valid("a\xff", 2));
    assert_false(sfn_utf8_valid("\xc3", 1));
}


/* a NUL survives a whole execution, its intrinsics and its output */
static void
test_json_exec(void **state)
{
    sfn_t_host_t    *h;
    sfn_t_result_t   r;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    sfn_t_run(h, "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\","
              "\"Parameters\":{\"a.$\":\"$.a\",\"s.$\":"
              "\"States.JsonToString($)\",\"j.$\":"
              "\"States.StringToJson(States.JsonToString($))\"},"
              "\"End\":true}}}",
              "{\"a\":\"x\\u0000y\"}", &r);

    assert_string_equal(sfn_status_name(r.status), "SUCCEEDED");
    assert_string_equal(r.output,
                        "{\"a\":\"x\\u0000y\","
                        "\"s\":\"{\\\"a\\\":\\\"x\\\\u0000y\\\"}\","
                        "\"j\":{\"a\":\"x\\u0000y\"}}");
    sfn_t_result_free(&r);

    free(h);
}


/* invalid UTF-8 in an input is refused before anything runs */
static void
test_json_input(void **state)
{
    sfn_host_t        host;
    sfn_diag_t        d;
    sfn_exec_t       *e;
    const char       *error, *cause;
    sfn_t_host_t     *h;
    sfn_machine_t    *m;
    sfn_exec_conf_t   conf;

    static const char  def[] = "{\"StartAt\":\"P\",\"States\":{\"P\":"
                               "{\"Type\":\"Pass\",\"End\":true}}}";

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    sfn_t_host_init(h, &host);

    m = sfn_machine_load(def, strlen(def), sfn_t_known, NULL, &d);
    assert_non_null(m);

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.name = "exec-1";
    conf.arn = "arn:aws:states:us-east-1:000000000000:execution:sm:exec-1";

    e = sfn_exec_create(m, &host, &conf, "{\"a\":\"\xff\"}", 10, &error,
                        &cause);
    assert_null(e);
    assert_string_equal(error, "InvalidExecutionInput");

    sfn_machine_free(m);
    sfn_t_host_free(h);
    free(h);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_json_text),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_json_exec),
        cmocka_unit_test(test_json_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

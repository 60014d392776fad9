
/*
 * Copyright (C) ngx_sfn authors
 *
 * Loading a definition: JSON parse, schema checks with AWS's diagnostic
 * codes, and compilation of paths, templates, intrinsic functions and
 * choice rules into the read-only sfn_machine_t.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_core.h"
#include "sfn_jsonata.h"


/* diagnostic locations are cut to the diag buffer on purpose */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif


#define SFN_MAX_STATE_NAME  80


typedef struct {
    sfn_machine_t        *m;
    sfn_diag_t           *diag;     /* an array of max */
    size_t                ndiag;
    size_t                max;
    sfn_resource_known_pt known;
    void                 *data;
    const char          **names;
    size_t                nnames;
    size_t                cap;
    int                   failed;
} sfn_load_t;


static void
sfn_load_fail(sfn_load_t *ld, const char *code, const char *state,
    const char *location, const char *fmt, ...)
{
    va_list      ap;
    sfn_diag_t  *d;

    if (ld->failed) {
        return;
    }

    ld->failed = 1;

    if (ld->diag == NULL || ld->ndiag == ld->max) {
        return;
    }

    d = &ld->diag[ld->ndiag++];

    snprintf(d->code, sizeof(d->code), "%s", code);
    snprintf(d->state, sizeof(d->state), "%s", state ? state : "");
    snprintf(d->location, sizeof(d->location), "%s",
             location ? location : "");

    va_start(ap, fmt);
    vsnprintf(d->message, sizeof(d->message), fmt, ap);
    va_end(ap);
}


/*
 * Collecting: a failure of one state (or one transition) is kept and the
 * load goes on with the next, while there is room for more diagnostics.
 */

static int
sfn_load_go_on(sfn_load_t *ld)
{
    if (!ld->failed || ld->ndiag == 0 || ld->ndiag >= ld->max) {
        return 0;
    }

    ld->failed = 0;

    return 1;
}


#define SFN_LOC(buf, base, field)                                             \
    snprintf(buf, sizeof(buf), "%s/%s", base, field)


static const char *
sfn_type_names[] = {
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"
};


static const char *sfn_fields_common[] = {
    "Type", "Comment", "QueryLanguage", NULL
};

static const char *sfn_fields_pass[] = {
    "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters",
    "Result", "Assign", "Output", NULL
};

static const char *sfn_fields_task[] = {
    "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters",
    "ResultSelector", "Resource", "TimeoutSeconds", "TimeoutSecondsPath",
    "HeartbeatSeconds", "HeartbeatSecondsPath", "Retry", "Catch",
    "Credentials", "Assign", "Arguments", "Output", NULL
};

static const char *sfn_fields_choice[] = {
    "Choices", "Default", "InputPath", "OutputPath", "Assign", "Output",
    NULL
};

static const char *sfn_fields_wait[] = {
    "Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp",
    "SecondsPath", "TimestampPath", "Assign", "Output", NULL
};

static const char *sfn_fields_succeed[] = {
    "InputPath", "OutputPath", "Output", NULL
};

static const char *sfn_fields_fail[] = {
    "Error", "Cause", "ErrorPath", "CausePath", NULL
};

static const char *sfn_fields_parallel[] = {
    "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters",
    "ResultSelector", "Branches", "Retry", "Catch", "Assign", "Arguments",
    "Output", NULL
};

static const char *sfn_fields_map[] = {
    "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters",
    "ResultSelector", "ItemsPath", "ItemSelector", "Iterator",
    "ItemProcessor", "MaxConcurrency", "MaxConcurrencyPath",
    "ToleratedFailureCount", "ToleratedFailureCountPath",
    "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
    "ItemBatcher", "ItemReader", "ResultWriter", "Label", "Retry", "Catch",
    "Assign", "Items", "Output", NULL
};

static const char **sfn_fields_by_type[] = {
    sfn_fields_pass, sfn_fields_task, sfn_fields_choice, sfn_fields_wait,
    sfn_fields_succeed, sfn_fields_fail, sfn_fields_parallel, sfn_fields_map
};


/* the fields of one query language only */

static const char *sfn_fields_jsonpath[] = {
    "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector",
    "Result", "ItemsPath", "MaxConcurrencyPath", "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath", "TimeoutSecondsPath",
    "HeartbeatSecondsPath", "SecondsPath", "TimestampPath", "ErrorPath",
    "CausePath", NULL
};

static const char *sfn_fields_jsonata[] = {
    "Arguments", "Output", "Items", NULL
};


static int
sfn_in_list(const char **list, const char *s)
{
    for ( /* void */ ; *list; list++) {
        if (strcmp(*list, s) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
sfn_is_posint(const cJSON *v, int64_t *out, int64_t min, int64_t max)
{
    int64_t  i;

    if (!sfn_json_is_int(v, &i) || i < min || i > max) {
        return 0;
    }

    *out = i;

    return 1;
}


static sfn_path_t *
sfn_load_path(sfn_load_t *ld, const cJSON *obj, const char *field,
    const char *state, const char *base, int reference, int *is_null,
    int allow_null)
{
    char         loc[600], err[256];
    sfn_path_t  *p;
    const cJSON *v;

    *is_null = 0;

    v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (v == NULL) {
        return NULL;
    }

    SFN_LOC(loc, base, field);

    if (cJSON_IsNull(v) && allow_null) {
        *is_null = 1;
        return NULL;
    }

    if (!cJSON_IsString(v)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "The value for the field '%s' must be a STRING",
                      field);
        return NULL;
    }

    p = sfn_path_compile(&ld->m->pool, v->valuestring,
                         strlen(v->valuestring), err, sizeof(err));
    if (p == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "The value for the field '%s' must be a valid "
                      "JSONPath: %s", field, err);
        return NULL;
    }

    /* ResultPath writes into the state's input, never a variable */
    if (reference
        && (!sfn_path_definite(p) || sfn_path_context(p)
            || (sfn_path_var(p) && strcmp(field, "ResultPath") == 0)))
    {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "The value for the field '%s' must be a valid "
                      "ReferencePath", field);
        return NULL;
    }

    return p;
}


static sfn_tmpl_t *
sfn_load_tmpl(sfn_load_t *ld, const cJSON *obj, const char *field,
    const char *state, const char *base)
{
    char          loc[600], err[512];
    sfn_tmpl_t   *t;
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (v == NULL) {
        return NULL;
    }

    SFN_LOC(loc, base, field);

    if (strcmp(field, "Parameters") != 0 && !cJSON_IsObject(v)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "The value for the field '%s' must be an OBJECT",
                      field);
        return NULL;
    }

    t = sfn_tmpl_compile(&ld->m->pool, v, err, sizeof(err));
    if (t == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "%s", err);
    }

    return t;
}


/* a JSONata field: NULL when absent, or failed with ld->failed set */
static sfn_qtmpl_t *
sfn_load_query(sfn_load_t *ld, const cJSON *obj, const char *field,
    const char *state, const char *base)
{
    char          loc[600], err[1024];
    sfn_qtmpl_t  *t;
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (v == NULL) {
        return NULL;
    }

    SFN_LOC(loc, base, field);

    t = sfn_qtmpl_compile(ld->m, v, field, err, sizeof(err));
    if (t == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc, "%s", err);
    }

    return t;
}


/* a "{% ... %}" value of a JSONata state */
static int
sfn_is_query(const sfn_state_t *st, const cJSON *v)
{
    size_t       n;
    const char  *e;

    return st->jsonata && cJSON_IsString(v)
           && sfn_query_text(v->valuestring, &e, &n);
}


/*
 * A variable name: a letter or "_", then letters, digits and "_" (any
 * UTF-8 letter beyond ASCII), at most 80 characters; "states" is
 * JSONata's $states.
 */
static int
sfn_var_name_valid(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || !sfn_utf8_valid(s, len) || sfn_utf8_count(s, len) > 80
        || (len == 6 && memcmp(s, "states", 6) == 0))
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
            || s[i] == '_' || (unsigned char) s[i] >= 0x80
            || (i > 0 && s[i] >= '0' && s[i] <= '9'))
        {
            continue;
        }

        return 0;
    }

    return 1;
}


/* Assign: a template in a JSONPath state, JSONata values in the other */
static int
sfn_load_assign(sfn_load_t *ld, const cJSON *obj, int jsonata,
    const char *state, const char *base, sfn_tmpl_t **path,
    sfn_qtmpl_t **query)
{
    char          loc[600], err[1024];
    size_t        len;
    const cJSON  *v, *c;

    v = cJSON_GetObjectItemCaseSensitive(obj, "Assign");
    if (v == NULL) {
        return 0;
    }

    SFN_LOC(loc, base, "Assign");

    if (!cJSON_IsObject(v)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "The value for the field 'Assign' must be an OBJECT");
        return -1;
    }

    cJSON_ArrayForEach(c, v) {
        len = strlen(c->string);

        if (!jsonata && len > 2 && strcmp(c->string + len - 2, ".$") == 0) {
            len -= 2;
        }

        if (!sfn_var_name_valid(c->string, len)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "The variable name '%.*s' is not valid: a letter "
                          "or '_', then letters, digits or '_', at most 80 "
                          "characters, and not 'states'", (int) len,
                          c->string);
            return -1;
        }
    }

    if (jsonata) {
        *query = sfn_qtmpl_compile(ld->m, v, "Assign", err, sizeof(err));

    } else {
        *path = sfn_tmpl_compile(&ld->m->pool, v, err, sizeof(err));
    }

    if ((jsonata && *query == NULL) || (!jsonata && *path == NULL)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc, "%s", err);
        return -1;
    }

    return 0;
}


static const char **
sfn_load_errors(sfn_load_t *ld, const cJSON *r, const char *state,
    const char *loc, size_t *n, int last)
{
    size_t        i, k;
    const char  **errs;
    const cJSON  *ee, *c;

    ee = cJSON_GetObjectItemCaseSensitive(r, "ErrorEquals");

    if (ee == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "These fields are required: [ErrorEquals]");
        return NULL;
    }

    if (!cJSON_IsArray(ee) || cJSON_GetArraySize(ee) == 0) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "The field 'ErrorEquals' must be a non-empty array "
                      "of strings");
        return NULL;
    }

    k = cJSON_GetArraySize(ee);
    errs = sfn_palloc(&ld->m->pool, k * sizeof(char *));
    if (errs == NULL) {
        return NULL;
    }

    i = 0;
    cJSON_ArrayForEach(c, ee) {
        if (!cJSON_IsString(c)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "The field 'ErrorEquals' must be a non-empty "
                          "array of strings");
            return NULL;
        }

        if (strcmp(c->valuestring, "States.ALL") == 0 && (k != 1 || !last)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "States.ALL must appear alone in ErrorEquals and "
                          "only in the last retrier or catcher");
            return NULL;
        }

        errs[i++] = c->valuestring;
    }

    *n = k;

    return errs;
}


/* a retrier or catcher: an object holding only the fields listed */

static int
sfn_load_fields(sfn_load_t *ld, const cJSON *obj, const char **fields,
    const char *what, const char *state, const char *loc)
{
    const cJSON  *v;

    if (!cJSON_IsObject(obj)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "A %s must be an OBJECT", what);
        return -1;
    }

    cJSON_ArrayForEach(v, obj) {
        if (!sfn_in_list(fields, v->string)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "Field '%s' is not supported", v->string);
            return -1;
        }
    }

    return 0;
}


static int
sfn_load_retry(sfn_load_t *ld, sfn_state_t *st, const cJSON *obj,
    const char *base)
{
    char            loc[600];
    size_t          i, n;
    int64_t         iv;
    const cJSON    *arr, *r, *v;
    sfn_retrier_t  *rt;

    static const char *fields[] = {
        "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
        "MaxDelaySeconds", "JitterStrategy", "Comment", NULL
    };

    arr = cJSON_GetObjectItemCaseSensitive(obj, "Retry");
    if (arr == NULL) {
        return 0;
    }

    SFN_LOC(loc, base, "Retry");

    if (!cJSON_IsArray(arr)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The value for the field 'Retry' must be an ARRAY");
        return -1;
    }

    n = cJSON_GetArraySize(arr);
    st->retriers = sfn_pcalloc(&ld->m->pool, (n ? n : 1)
                                             * sizeof(sfn_retrier_t));
    if (st->retriers == NULL) {
        return -1;
    }

    st->nretriers = n;
    i = 0;

    cJSON_ArrayForEach(r, arr) {
        snprintf(loc, sizeof(loc), "%s/Retry[%zu]", base, i);
        rt = &st->retriers[i];

        if (sfn_load_fields(ld, r, fields, "retrier", st->name, loc) != 0) {
            return -1;
        }

        rt->errors = sfn_load_errors(ld, r, st->name, loc, &rt->nerrors,
                                     i + 1 == n);
        if (rt->errors == NULL) {
            return -1;
        }

        rt->interval = 1;
        rt->max_attempts = 3;
        rt->backoff = 2.0;

        v = cJSON_GetObjectItemCaseSensitive(r, "IntervalSeconds");
        if (v) {
            if (!sfn_is_posint(v, &iv, 1, 99999999)) {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                              "The value for the field 'IntervalSeconds' "
                              "must be a positive integer");
                return -1;
            }
            rt->interval = (double) iv;
        }

        v = cJSON_GetObjectItemCaseSensitive(r, "MaxAttempts");
        if (v) {
            if (!sfn_is_posint(v, &iv, 0, 99999999)) {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                              "The value for the field 'MaxAttempts' "
                              "must be a non-negative integer");
                return -1;
            }
            rt->max_attempts = (unsigned) iv;
        }

        v = cJSON_GetObjectItemCaseSensitive(r, "BackoffRate");
        if (v) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 1.0
                || v->valuedouble > 1e6)
            {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                              "The value for the field 'BackoffRate' "
                              "must be a number greater than or equal "
                              "to 1.0");
                return -1;
            }
            rt->backoff = v->valuedouble;
        }

        v = cJSON_GetObjectItemCaseSensitive(r, "MaxDelaySeconds");
        if (v) {
            if (!sfn_is_posint(v, &iv, 1, 31622400)) {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                              "The value for the field 'MaxDelaySeconds' "
                              "must be a positive integer");
                return -1;
            }
            rt->max_delay = (double) iv;
        }

        v = cJSON_GetObjectItemCaseSensitive(r, "JitterStrategy");
        if (v) {
            if (!cJSON_IsString(v)
                || (strcmp(v->valuestring, "FULL") != 0
                    && strcmp(v->valuestring, "NONE") != 0))
            {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                              "The value for the field 'JitterStrategy' "
                              "must be FULL or NONE");
                return -1;
            }
            rt->jitter_full = strcmp(v->valuestring, "FULL") == 0;
        }

        i++;
    }

    return 0;
}


static int
sfn_load_catch(sfn_load_t *ld, sfn_state_t *st, const cJSON *obj,
    const char *base)
{
    int             is_null;
    char            loc[600];
    size_t          i, n;
    const cJSON    *arr, *r, *v;
    sfn_catcher_t  *ct;

    static const char *fields[] = {
        "ErrorEquals", "Next", "ResultPath", "Comment", "Assign", NULL
    };

    static const char *qfields[] = {
        "ErrorEquals", "Next", "Output", "Comment", "Assign", NULL
    };

    arr = cJSON_GetObjectItemCaseSensitive(obj, "Catch");
    if (arr == NULL) {
        return 0;
    }

    SFN_LOC(loc, base, "Catch");

    if (!cJSON_IsArray(arr)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The value for the field 'Catch' must be an ARRAY");
        return -1;
    }

    n = cJSON_GetArraySize(arr);
    st->catchers = sfn_pcalloc(&ld->m->pool, (n ? n : 1)
                                             * sizeof(sfn_catcher_t));
    if (st->catchers == NULL) {
        return -1;
    }

    st->ncatchers = n;
    i = 0;

    cJSON_ArrayForEach(r, arr) {
        snprintf(loc, sizeof(loc), "%s/Catch[%zu]", base, i);
        ct = &st->catchers[i];

        if (sfn_load_fields(ld, r, st->jsonata ? qfields : fields, "catcher",
                            st->name, loc) != 0)
        {
            return -1;
        }

        if (sfn_load_assign(ld, r, st->jsonata, st->name, loc, &ct->assign,
                            &ct->qassign) != 0)
        {
            return -1;
        }

        if (st->jsonata) {
            ct->output = sfn_load_query(ld, r, "Output", st->name, loc);
            if (ld->failed) {
                return -1;
            }
        }

        ct->errors = sfn_load_errors(ld, r, st->name, loc, &ct->nerrors,
                                     i + 1 == n);
        if (ct->errors == NULL) {
            return -1;
        }

        v = cJSON_GetObjectItemCaseSensitive(r, "Next");
        if (!cJSON_IsString(v)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "These fields are required: [Next]");
            return -1;
        }

        ct->next_name = v->valuestring;

        ct->result_path = sfn_load_path(ld, r, "ResultPath", st->name, loc,
                                        1, &is_null, 1);
        ct->result_path_null = is_null;

        if (ld->failed) {
            return -1;
        }

        i++;
    }

    return 0;
}


static sfn_rule_t *
sfn_load_rule(sfn_load_t *ld, const cJSON *r, const char *state,
    const char *loc, int top, int depth)
{
    int           is_path, kind, nops, is_null;
    char          sub[600], err[256];
    size_t        i, n;
    sfn_op_e      op;
    sfn_rule_t   *rule;
    const cJSON  *c, *v, *opv;

    if (depth > 64) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "Choice rules are nested too deeply");
        return NULL;
    }

    if (!cJSON_IsObject(r)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "A choice rule must be an OBJECT");
        return NULL;
    }

    rule = sfn_pcalloc(&ld->m->pool, sizeof(sfn_rule_t));
    if (rule == NULL) {
        return NULL;
    }

    nops = 0;
    opv = NULL;
    kind = 0;
    is_path = 0;
    op = 0;

    cJSON_ArrayForEach(c, r) {
        if (strcmp(c->string, "Variable") == 0
            || strcmp(c->string, "Next") == 0
            || strcmp(c->string, "Comment") == 0)
        {
            continue;
        }

        if (strcmp(c->string, "And") == 0) {
            op = SFN_OP_AND;
        } else if (strcmp(c->string, "Or") == 0) {
            op = SFN_OP_OR;
        } else if (strcmp(c->string, "Not") == 0) {
            op = SFN_OP_NOT;

        } else if (strcmp(c->string, "Assign") == 0 && top) {
            continue;

        } else if (strcmp(c->string, "Condition") == 0) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "The field 'Condition' is supported only by "
                          "states that use the JSONata query language");
            return NULL;

        } else {
            op = sfn_rule_op(c->string, &is_path, &kind);
            if (op == 0) {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                              "Field '%s' is not supported", c->string);
                return NULL;
            }
        }

        nops++;
        opv = c;
        rule->op = op;
    }

    if (nops != 1) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "A choice rule must have exactly one comparison "
                      "operator or one of And, Or, Not");
        return NULL;
    }

    v = cJSON_GetObjectItemCaseSensitive(r, "Next");

    if (top) {
        if (!cJSON_IsString(v)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "These fields are required: [Next]");
            return NULL;
        }
        rule->next_name = v->valuestring;

        if (sfn_load_assign(ld, r, 0, state, loc, &rule->assign,
                            &rule->qassign) != 0)
        {
            return NULL;
        }

    } else if (v) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "Field 'Next' is not supported in a nested choice "
                      "rule");
        return NULL;
    }

    if (op == SFN_OP_AND || op == SFN_OP_OR || op == SFN_OP_NOT) {
        if (cJSON_GetObjectItemCaseSensitive(r, "Variable")) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "Field 'Variable' is not supported with %s",
                          opv->string);
            return NULL;
        }

        if (op == SFN_OP_NOT) {
            snprintf(sub, sizeof(sub), "%s/Not", loc);
            rule->sub = sfn_palloc(&ld->m->pool, sizeof(sfn_rule_t *));
            if (rule->sub == NULL) {
                return NULL;
            }
            rule->nsub = 1;
            rule->sub[0] = sfn_load_rule(ld, opv, state, sub, 0, depth + 1);
            return rule->sub[0] ? rule : NULL;
        }

        if (!cJSON_IsArray(opv) || cJSON_GetArraySize(opv) == 0) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "The value for the field '%s' must be a "
                          "non-empty ARRAY", opv->string);
            return NULL;
        }

        n = cJSON_GetArraySize(opv);
        rule->sub = sfn_palloc(&ld->m->pool, n * sizeof(sfn_rule_t *));
        if (rule->sub == NULL) {
            return NULL;
        }

        rule->nsub = n;
        i = 0;

        cJSON_ArrayForEach(c, opv) {
            snprintf(sub, sizeof(sub), "%s/%s[%zu]", loc, opv->string, i);
            rule->sub[i] = sfn_load_rule(ld, c, state, sub, 0, depth + 1);
            if (rule->sub[i] == NULL) {
                return NULL;
            }
            i++;
        }

        return rule;
    }

    rule->var = sfn_load_path(ld, r, "Variable", state, loc, 0, &is_null, 0);
    if (rule->var == NULL) {
        if (!ld->failed) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "These fields are required: [Variable]");
        }
        return NULL;
    }

    rule->is_path = is_path;
    rule->value = opv;

    if (is_path) {
        if (!cJSON_IsString(opv)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "The value for the field '%s' must be a STRING",
                          opv->string);
            return NULL;
        }

        rule->vpath = sfn_path_compile(&ld->m->pool, opv->valuestring,
                                       strlen(opv->valuestring), err,
                                       sizeof(err));
        if (rule->vpath == NULL) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "The value for the field '%s' must be a valid "
                          "JSONPath: %s", opv->string, err);
            return NULL;
        }

        return rule;
    }

    switch (kind) {

    case 1:
        if (!cJSON_IsString(opv)) {
            goto type;
        }
        rule->str = opv->valuestring;
        break;

    case 2:
        if (!cJSON_IsNumber(opv)) {
            goto type;
        }
        rule->num = opv->valuedouble;
        break;

    case 3:
    case 5:
        if (!cJSON_IsBool(opv)) {
            goto type;
        }
        rule->boolean = cJSON_IsTrue(opv);
        break;

    case 4:
        if (!cJSON_IsString(opv)
            || sfn_time_parse(opv->valuestring, strlen(opv->valuestring),
                              &rule->ts_sec, &rule->ts_nsec) != 0)
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "The value for the field '%s' must be a valid "
                          "RFC3339 timestamp", opv->string);
            return NULL;
        }
        break;
    }

    return rule;

type:

    sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                  "The value for the field '%s' must be of type %s",
                  opv->string,
                  kind == 1 ? "STRING" : (kind == 2 ? "NUMBER" : "BOOLEAN"));

    return NULL;
}


/* a JSONata choice rule: Condition, Next, and its own Output and Assign */
static sfn_rule_t *
sfn_load_condition(sfn_load_t *ld, const cJSON *r, const char *state,
    const char *loc)
{
    sfn_rule_t   *rule;
    const cJSON  *v, *c;

    static const char *fields[] = {
        "Condition", "Next", "Output", "Assign", "Comment", NULL
    };

    if (sfn_load_fields(ld, r, fields, "choice rule", state, loc) != 0) {
        return NULL;
    }

    rule = sfn_pcalloc(&ld->m->pool, sizeof(sfn_rule_t));
    if (rule == NULL) {
        return NULL;
    }

    v = cJSON_GetObjectItemCaseSensitive(r, "Next");
    c = cJSON_GetObjectItemCaseSensitive(r, "Condition");

    if (!cJSON_IsString(v) || c == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "These fields are required: [Condition, Next]");
        return NULL;
    }

    rule->next_name = v->valuestring;

    if (!cJSON_IsBool(c)
        && !(cJSON_IsString(c) && c->valuestring[0] == '{'))
    {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "The value for the field 'Condition' must be a "
                      "BOOLEAN or a JSONata expression");
        return NULL;
    }

    rule->condition = sfn_load_query(ld, r, "Condition", state, loc);
    rule->output = sfn_load_query(ld, r, "Output", state, loc);

    if (ld->failed
        || sfn_load_assign(ld, r, 1, state, loc, &rule->assign,
                           &rule->qassign) != 0)
    {
        return NULL;
    }

    if (rule->condition && !sfn_qtmpl_is_expr(rule->condition)
        && !cJSON_IsBool(sfn_qtmpl_literal(rule->condition)))
    {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "The value for the field 'Condition' must be a "
                      "BOOLEAN or a JSONata expression");
        return NULL;
    }

    return rule;
}


static sfn_graph_t *sfn_load_graph(sfn_load_t *ld, const cJSON *obj,
    const char *base, const char *owner);


static int
sfn_load_names(sfn_load_t *ld, const char *name, const char *loc)
{
    size_t        i, cap;
    const char  **n;

    for (i = 0; i < ld->nnames; i++) {
        if (strcmp(ld->names[i], name) == 0) {
            sfn_load_fail(ld, "DUPLICATE_STATE_NAME", name, loc,
                          "Duplicate State name: %s", name);
            return -1;
        }
    }

    if (ld->nnames == ld->cap) {
        cap = ld->cap ? ld->cap * 2 : 32;
        n = realloc(ld->names, cap * sizeof(char *));
        if (n == NULL) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                          "out of memory");
            return -1;
        }
        ld->names = n;
        ld->cap = cap;
    }

    ld->names[ld->nnames++] = name;

    return 0;
}


/*
 * arn:aws:states:<region>:<account>:activity:<name>, the name by AWS's rule
 * for names (1 to 80 characters, none of white space, brackets, wildcards,
 * special or control characters)
 */

int
sfn_resource_activity(const char *r)
{
    size_t       n;
    const char  *p;

    if (strncmp(r, "arn:aws:states:", 15) != 0) {
        return 0;
    }

    p = r + 15;

    for (n = 0; n < 2; n++) {
        p = strchr(p, ':');
        if (p == NULL) {
            return 0;
        }
        p++;
    }

    if (strncmp(p, "activity:", 9) != 0 || p - r < 19) {
        return 0;
    }

    p += 9;
    n = strlen(p);

    if (n == 0 || n > 80) {
        return 0;
    }

    for ( /* void */ ; *p; p++) {
        if ((unsigned char) *p <= 0x20 || *p == 0x7f
            || strchr("<>{}[]?*\"#%\\^|~`$&,;:/", *p))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * The resourceType and resource of the state's Task* history events, as AWS
 * names them: "arn:aws:states:::dynamodb:putItem" is "dynamodb" and
 * "putItem", "arn:aws:states:::states:startExecution.sync:2" is "states"
 * and "startExecution.sync:2"; a Lambda function ARN is "lambda" and the
 * ARN; our own "sfn:file:copy" is "sfn" and "file:copy".
 */

static int
sfn_load_resource_names(sfn_load_t *ld, sfn_state_t *st)
{
    size_t       n;
    sfn_pool_t  *pool;
    const char  *r, *p;

    pool = &ld->m->pool;
    r = st->resource;

    if (strncmp(r, "arn:aws:lambda:", 15) == 0) {
        st->resource_type = "lambda";
        st->resource_name = r;
        return 0;
    }

    if (sfn_resource_activity(r)) {
        st->activity = 1;
        ld->m->uses_activity = 1;
        st->resource_type = "activity";
        st->resource_name = r;
        return 0;
    }

    if (strncmp(r, "arn:aws:states:::", 17) == 0) {
        r += 17;
    }

    p = strchr(r, ':');
    n = p ? (size_t) (p - r) : strlen(r);

    st->resource_type = sfn_pstrndup(pool, r, n);
    st->resource_name = p ? p + 1 : r;

    return st->resource_type ? 0 : -1;
}


static int
sfn_load_resource(sfn_load_t *ld, sfn_state_t *st, const char *loc)
{
    size_t        i;
    const char  **r;

    if (ld->known && !ld->known(ld->data, st->resource)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The resource provided %s is not recognized. The "
                      "value is not a valid resource ARN, or the resource "
                      "is not available in this region.", st->resource);
        return -1;
    }

    if (sfn_load_resource_names(ld, st) != 0) {
        return -1;
    }

    for (i = 0; i < ld->m->nresources; i++) {
        if (strcmp(ld->m->resources[i], st->resource) == 0) {
            return 0;
        }
    }

    r = sfn_palloc(&ld->m->pool, (ld->m->nresources + 1) * sizeof(char *));
    if (r == NULL) {
        return -1;
    }

    if (ld->m->nresources) {
        memcpy(r, ld->m->resources, ld->m->nresources * sizeof(char *));
    }

    r[ld->m->nresources++] = st->resource;
    ld->m->resources = r;

    return 0;
}


static int
sfn_load_task(sfn_load_t *ld, sfn_state_t *st, const cJSON *obj,
    const char *base)
{
    int           is_null;
    char          loc[600];
    size_t        len;
    int64_t       iv;
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, "Resource");
    SFN_LOC(loc, base, "Resource");

    if (v == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, base,
                      "These fields are required: [Resource]");
        return -1;
    }

    if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The value for the field 'Resource' must be a "
                      "non-empty STRING");
        return -1;
    }

    st->resource = v->valuestring;
    len = strlen(st->resource);

    if (len > 17 && strcmp(st->resource + len - 17, ".waitForTaskToken") == 0)
    {
        st->wait_token = 1;
        ld->m->uses_token = 1;
    }

    if (len > 5 && strcmp(st->resource + len - 5, ".sync") == 0) {
        st->sync = 1;
        ld->m->uses_sync = 1;
    }

    if (cJSON_GetObjectItemCaseSensitive(obj, "Credentials")) {
        v = cJSON_GetObjectItemCaseSensitive(obj, "Credentials");
        if (!cJSON_IsObject(v)
            || (!cJSON_GetObjectItemCaseSensitive(v, "RoleArn")
                && !cJSON_GetObjectItemCaseSensitive(v, "RoleArn.$")))
        {
            SFN_LOC(loc, base, "Credentials");
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The field 'RoleArn' is required but was "
                          "missing");
            return -1;
        }
    }

    if (sfn_load_resource(ld, st, loc) != 0) {
        return -1;
    }

    v = cJSON_GetObjectItemCaseSensitive(obj, "TimeoutSeconds");
    if (sfn_is_query(st, v)) {
        st->q_timeout = sfn_load_query(ld, obj, "TimeoutSeconds", st->name,
                                       base);
        v = NULL;
    }

    if (v) {
        SFN_LOC(loc, base, "TimeoutSeconds");
        if (!sfn_is_posint(v, &iv, 1, 99999999)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The value for the field 'TimeoutSeconds' must "
                          "be a positive integer");
            return -1;
        }
        st->timeout_ms = iv * 1000;
    }

    v = cJSON_GetObjectItemCaseSensitive(obj, "HeartbeatSeconds");
    if (sfn_is_query(st, v)) {
        st->q_heartbeat = sfn_load_query(ld, obj, "HeartbeatSeconds",
                                         st->name, base);
        v = NULL;
    }

    if (v) {
        SFN_LOC(loc, base, "HeartbeatSeconds");
        if (!sfn_is_posint(v, &iv, 1, 99999999)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The value for the field 'HeartbeatSeconds' must "
                          "be a positive integer");
            return -1;
        }
        st->heartbeat_ms = iv * 1000;

        if (st->timeout_ms && st->heartbeat_ms >= st->timeout_ms) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "HeartbeatSeconds must be smaller than "
                          "TimeoutSeconds");
            return -1;
        }
    }

    st->timeout_path = sfn_load_path(ld, obj, "TimeoutSecondsPath", st->name,
                                     base, 1, &is_null, 0);
    st->heartbeat_path = sfn_load_path(ld, obj, "HeartbeatSecondsPath",
                                       st->name, base, 1, &is_null, 0);

    if (ld->failed) {
        return -1;
    }

    if ((st->timeout_path && st->timeout_ms)
        || (st->heartbeat_path && st->heartbeat_ms))
    {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, base,
                      "A field and its Path form are mutually exclusive");
        return -1;
    }

    return 0;
}


static int
sfn_load_wait(sfn_load_t *ld, sfn_state_t *st, const cJSON *obj,
    const char *base)
{
    int           n, is_null;
    char          loc[600];
    int64_t       sec;
    int32_t       nsec;
    const cJSON  *v;

    n = 0;

    v = cJSON_GetObjectItemCaseSensitive(obj, "Seconds");
    if (v) {
        n++;
        st->wait_kind = 1;
        SFN_LOC(loc, base, "Seconds");
        if (sfn_is_query(st, v)) {
            st->q_wait = sfn_load_query(ld, obj, "Seconds", st->name, base);

        } else if (!sfn_is_posint(v, &st->wait_seconds, 0, 99999999)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The value for the field 'Seconds' must be a "
                          "non-negative integer");
            return -1;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(obj, "Timestamp");
    if (v) {
        n++;
        st->wait_kind = 2;
        SFN_LOC(loc, base, "Timestamp");
        if (sfn_is_query(st, v)) {
            st->q_wait = sfn_load_query(ld, obj, "Timestamp", st->name,
                                        base);

        } else if (!cJSON_IsString(v)
            || sfn_time_parse(v->valuestring, strlen(v->valuestring), &sec,
                              &nsec) != 0)
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The value for the field 'Timestamp' must be a "
                          "valid RFC3339 timestamp");
            return -1;

        } else {
            st->wait_ts_ms = sec * 1000 + nsec / 1000000;
        }
    }

    if (cJSON_GetObjectItemCaseSensitive(obj, "SecondsPath")) {
        n++;
        st->wait_kind = 3;
        st->wait_path = sfn_load_path(ld, obj, "SecondsPath", st->name, base,
                                      0, &is_null, 0);
    }

    if (cJSON_GetObjectItemCaseSensitive(obj, "TimestampPath")) {
        n++;
        st->wait_kind = 4;
        st->wait_path = sfn_load_path(ld, obj, "TimestampPath", st->name,
                                      base, 0, &is_null, 0);
    }

    if (ld->failed) {
        return -1;
    }

    if (n != 1) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, base,
                      "A Wait state must have exactly one of Seconds, "
                      "Timestamp, SecondsPath, TimestampPath");
        return -1;
    }

    return 0;
}


static int
sfn_load_fail_state(sfn_load_t *ld, sfn_state_t *st, const cJSON *obj,
    const char *base)
{
    int           i;
    char          loc[600], err[256];
    sfn_expr_t   *x;
    const cJSON  *v, *p;

    static const char *names[] = { "Error", "Cause" };

    for (i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(obj, names[i]);
        p = cJSON_GetObjectItemCaseSensitive(obj, i ? "CausePath"
                                                    : "ErrorPath");

        if (v && p) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, base,
                          "The fields '%s' and '%sPath' are mutually "
                          "exclusive", names[i], names[i]);
            return -1;
        }

        if (sfn_is_query(st, v)) {
            if (i == 0) {
                st->q_error = sfn_load_query(ld, obj, names[i], st->name,
                                             base);
            } else {
                st->q_cause = sfn_load_query(ld, obj, names[i], st->name,
                                             base);
            }

            if (ld->failed) {
                return -1;
            }

            v = NULL;
        }

        if (v) {
            SFN_LOC(loc, base, names[i]);
            if (!cJSON_IsString(v)) {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                              "The value for the field '%s' must be a "
                              "STRING", names[i]);
                return -1;
            }

            if (i == 0) {
                st->error = v->valuestring;
            } else {
                st->cause = v->valuestring;
            }
        }

        if (p) {
            snprintf(loc, sizeof(loc), "%s/%sPath", base, names[i]);

            x = sfn_pcalloc(&ld->m->pool, sizeof(sfn_expr_t));
            if (x == NULL) {
                return -1;
            }

            if (!cJSON_IsString(p)
                || sfn_expr_compile(&ld->m->pool, x, p->valuestring, err,
                                    sizeof(err)) != 0)
            {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                              "The value for the field '%sPath' must be a "
                              "valid JSONPath or intrinsic function",
                              names[i]);
                return -1;
            }

            if (i == 0) {
                st->error_path = x;
            } else {
                st->cause_path = x;
            }
        }
    }

    return 0;
}


static sfn_graph_t *
sfn_load_processor(sfn_load_t *ld, const cJSON *v, const char *loc,
    const char *state, int *distributed)
{
    const cJSON  *cfg, *mode;

    *distributed = 0;

    if (!cJSON_IsObject(v)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                      "The item processor must be an OBJECT");
        return NULL;
    }

    cfg = cJSON_GetObjectItemCaseSensitive(v, "ProcessorConfig");
    if (cfg) {
        mode = cJSON_GetObjectItemCaseSensitive(cfg, "Mode");
        if (mode) {
            if (!cJSON_IsString(mode)
                || (strcmp(mode->valuestring, "INLINE") != 0
                    && strcmp(mode->valuestring, "DISTRIBUTED") != 0))
            {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                              "ProcessorConfig Mode must be INLINE or "
                              "DISTRIBUTED");
                return NULL;
            }

            *distributed = strcmp(mode->valuestring, "DISTRIBUTED") == 0;
        }

        if (cJSON_GetObjectItemCaseSensitive(cfg, "ExecutionType")
            && !*distributed)
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", state, loc,
                          "ExecutionType is only supported with the "
                          "DISTRIBUTED mode");
            return NULL;
        }
    }

    return sfn_load_graph(ld, v, loc, state);
}


/* ItemReader and ResultWriter resources, as AWS names them, and ours */

static const struct {
    const char  *aws;
    const char  *sfn;
    int          writer;
}  sfn_map_resources[] = {
    { "arn:aws:states:::s3:getObject", "sfn:file:read", 0 },
    { "arn:aws:states:::s3:listObjectsV2", "sfn:file:list", 0 },
    { "arn:aws:states:::s3:putObject", "sfn:file:write", 1 },
    { NULL, NULL, 0 }
};


static const char *
sfn_load_map_io(sfn_load_t *ld, sfn_state_t *st, const cJSON *obj,
    const char *field, const char *base, sfn_tmpl_t **params,
    sfn_qtmpl_t **args, const cJSON **config, const char *config_name)
{
    int           writer, i;
    char          loc[600];
    const char   *res;
    const cJSON  *io, *v, *c;

    static const char  *fields[] = {
        "Resource", "Parameters", "Arguments", "ReaderConfig",
        "WriterConfig", NULL
    };

    io = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (io == NULL) {
        return NULL;
    }

    SFN_LOC(loc, base, field);
    writer = strcmp(field, "ResultWriter") == 0;

    if (!cJSON_IsObject(io)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The value for the field '%s' must be an OBJECT",
                      field);
        return NULL;
    }

    if (!st->distributed) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The field '%s' is only supported with the "
                      "DISTRIBUTED processor mode", field);
        return NULL;
    }

    cJSON_ArrayForEach(c, io) {
        if (!sfn_in_list(fields, c->string)
            || (strcmp(c->string, "ReaderConfig") == 0 && writer)
            || (strcmp(c->string, "WriterConfig") == 0 && !writer))
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "Field '%s' is not supported", c->string);
            return NULL;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(io, "Resource");
    res = NULL;

    if (writer && v == NULL
        && cJSON_GetObjectItemCaseSensitive(io, "Parameters") == NULL
        && cJSON_GetObjectItemCaseSensitive(io, "Arguments") == NULL)
    {
        /* WriterConfig alone: the results formatted into the output */

        *config = cJSON_GetObjectItemCaseSensitive(io, config_name);

        if (*config == NULL) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The field 'ResultWriter' cannot be empty: it "
                          "needs WriterConfig, or Resource and %s",
                          st->jsonata ? "Arguments" : "Parameters");
            return NULL;
        }

        if (!cJSON_IsObject(*config)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The value for the field '%s' must be an OBJECT",
                          config_name);
        }

        return NULL;
    }

    for (i = 0; cJSON_IsString(v) && sfn_map_resources[i].aws; i++) {
        if (sfn_map_resources[i].writer == writer
            && (strcmp(v->valuestring, sfn_map_resources[i].aws) == 0
                || strcmp(v->valuestring, sfn_map_resources[i].sfn) == 0))
        {
            res = sfn_map_resources[i].sfn;
        }
    }

    if (res == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      writer ? "The ResultWriter Resource must be "
                               "arn:aws:states:::s3:putObject"
                             : "The ItemReader Resource must be "
                               "arn:aws:states:::s3:getObject or "
                               "arn:aws:states:::s3:listObjectsV2");
        return NULL;
    }

    if (st->jsonata) {
        *args = sfn_load_query(ld, io, "Arguments", st->name, loc);

    } else {
        *params = sfn_load_tmpl(ld, io, "Parameters", st->name, loc);
    }

    if (ld->failed) {
        return NULL;
    }

    if (*params == NULL && *args == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The field '%s' needs %s with its Bucket", field,
                      st->jsonata ? "Arguments" : "Parameters");
        return NULL;
    }

    v = cJSON_GetObjectItemCaseSensitive(io, config_name);
    if (v && !cJSON_IsObject(v)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The value for the field '%s' must be an OBJECT",
                      config_name);
        return NULL;
    }

    *config = v;

    return res;
}


/*
 * ReaderConfig and WriterConfig: their fields and the values AWS
 * documents for each (NULL values: not a string field)
 */

typedef struct {
    const char           *name;
    const char          **values;
} sfn_config_field_t;


static const char  *sfn_input_types[] = {
    "CSV", "JSON", "JSONL", "PARQUET", "MANIFEST", NULL
};
static const char  *sfn_reader_transformations[] = {
    "NONE", "LOAD_AND_FLATTEN", NULL
};
static const char  *sfn_manifest_types[] = {
    "ATHENA_DATA", "S3_INVENTORY", NULL
};
static const char  *sfn_csv_delimiters[] = {
    "COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB", NULL
};
static const char  *sfn_csv_header_locations[] = {
    "FIRST_ROW", "GIVEN", NULL
};
static const char  *sfn_writer_transformations[] = {
    "NONE", "COMPACT", "FLATTEN", NULL
};
static const char  *sfn_output_types[] = { "JSON", "JSONL", NULL };


static const sfn_config_field_t  sfn_reader_config[] = {
    { "InputType", sfn_input_types },
    { "Transformation", sfn_reader_transformations },
    { "ManifestType", sfn_manifest_types },
    { "CSVDelimiter", sfn_csv_delimiters },
    { "CSVHeaderLocation", sfn_csv_header_locations },
    { "CSVHeaders", NULL },
    { "ItemsPointer", NULL },
    { "MaxItems", NULL },
    { "MaxItemsPath", NULL },
    { NULL, NULL }
};


static const sfn_config_field_t  sfn_writer_config[] = {
    { "Transformation", sfn_writer_transformations },
    { "OutputType", sfn_output_types },
    { NULL, NULL }
};


static int
sfn_load_config(sfn_load_t *ld, sfn_state_t *st, const cJSON *cfg,
    const char *loc, const sfn_config_field_t *fields)
{
    char                      list[128], *p;
    const char              **v;
    const cJSON              *c;
    const sfn_config_field_t *f;

    cJSON_ArrayForEach(c, cfg) {
        for (f = fields; f->name; f++) {
            if (strcmp(f->name, c->string) == 0) {
                break;
            }
        }

        if (f->name == NULL) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "Field '%s' is not supported", c->string);
            return -1;
        }

        if (f->values == NULL) {
            continue;
        }

        if (cJSON_IsString(c) && sfn_in_list(f->values, c->valuestring)) {
            continue;
        }

        p = list;
        for (v = f->values; *v; v++) {
            p += snprintf(p, list + sizeof(list) - p, "%s%s",
                          v == f->values ? "" : v[1] ? ", " : " or ", *v);
        }

        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "%s must be %s", f->name, list);
        return -1;
    }

    return 0;
}


/* the fields, and how they go together, as the ItemReader page has them */

static int
sfn_load_reader_config(sfn_load_t *ld, sfn_state_t *st, const cJSON *rc,
    const char *loc)
{
    int            csv, list;
    size_t         size;
    const char    *type, *manifest, *transform, *header, *why;
    const cJSON   *h, *v;

    if (sfn_load_config(ld, st, rc, loc, sfn_reader_config) != 0) {
        return -1;
    }

    type = sfn_json_str(rc, "InputType");
    manifest = sfn_json_str(rc, "ManifestType");
    transform = sfn_json_str(rc, "Transformation");
    header = sfn_json_str(rc, "CSVHeaderLocation");
    list = strcmp(st->reader_resource, "sfn:file:list") == 0;
    why = NULL;

    if (transform && strcmp(transform, "LOAD_AND_FLATTEN") == 0) {
        if (!list) {
            why = "Transformation LOAD_AND_FLATTEN is only supported with "
                  "the arn:aws:states:::s3:listObjectsV2 Resource";

        } else if (type == NULL || strcmp(type, "MANIFEST") == 0) {
            why = "Transformation LOAD_AND_FLATTEN needs an InputType of "
                  "CSV, JSON, JSONL or PARQUET";
        }

    } else if (manifest && strcmp(manifest, "S3_INVENTORY") == 0) {
        if (type) {
            why = "InputType must not be given with ManifestType "
                  "S3_INVENTORY: the inventory is read as CSV";
        }

    } else if (manifest) {
        if (type == NULL || strcmp(type, "JSON") == 0
            || strcmp(type, "MANIFEST") == 0)
        {
            why = "ManifestType ATHENA_DATA needs an InputType of CSV, JSONL "
                  "or PARQUET";
        }
    }

    if (why == NULL && manifest && list) {
        why = "ManifestType is only supported with the "
              "arn:aws:states:::s3:getObject Resource";
    }

    csv = (type && (strcmp(type, "CSV") == 0 || strcmp(type, "MANIFEST") == 0))
          || (manifest && strcmp(manifest, "S3_INVENTORY") == 0);

    if (why == NULL && !csv
        && (cJSON_GetObjectItemCaseSensitive(rc, "CSVDelimiter")
            || header
            || cJSON_GetObjectItemCaseSensitive(rc, "CSVHeaders")))
    {
        why = "CSVDelimiter, CSVHeaderLocation and CSVHeaders are only "
              "supported with the CSV or MANIFEST InputType";
    }

    v = cJSON_GetObjectItemCaseSensitive(rc, "ItemsPointer");

    if (why == NULL && v) {
        if (type == NULL || strcmp(type, "JSON") != 0) {
            why = "ItemsPointer is only supported with the JSON InputType";

        } else if (!cJSON_IsString(v) || strlen(v->valuestring) >= 2000
                   || (v->valuestring[0] && v->valuestring[0] != '/'))
        {
            why = "ItemsPointer must be a JSON Pointer (\"/a/b\") shorter "
                  "than 2000 characters";
        }
    }

    h = cJSON_GetObjectItemCaseSensitive(rc, "CSVHeaders");

    if (why == NULL && header && strcmp(header, "GIVEN") == 0) {
        size = 0;

        if (!cJSON_IsArray(h) || h->child == NULL) {
            why = "CSVHeaders must be a list of names with "
                  "CSVHeaderLocation GIVEN";
        }

        cJSON_ArrayForEach(v, h) {
            if (!cJSON_IsString(v)) {
                why = "CSVHeaders must be strings";
                break;
            }

            size += strlen(v->valuestring) + 1;
        }

        if (why == NULL && size > 10240) {
            why = "CSVHeaders must not be larger than 10 KiB";
        }

    } else if (why == NULL && h) {
        why = "CSVHeaders is only supported with CSVHeaderLocation GIVEN";
    }

    if (why) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc, "%s",
                      why);
        return -1;
    }

    return 0;
}


/*
 * A distributed Map: its children run as executions of the ItemProcessor,
 * which is kept as a definition of its own (the query language it
 * inherits written in)
 */

static int
sfn_load_distributed(sfn_load_t *ld, sfn_state_t *st, const cJSON *obj,
    const cJSON *proc, const char *base)
{
    int           is_null;
    char          loc[600], *text;
    cJSON        *def;
    int64_t       max;
    const cJSON  *v, *cfg, *rc;

    v = cJSON_GetObjectItemCaseSensitive(obj, "Label");
    if (v) {
        if (!cJSON_IsString(v) || strlen(v->valuestring) == 0
            || strlen(v->valuestring) > 40
            || strpbrk(v->valuestring, " <>{}[]?*\"#%\\^|~`$&,;:/") != NULL)
        {
            SFN_LOC(loc, base, "Label");
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The value for the field 'Label' must be 1 to 40 "
                          "characters, without white space or special "
                          "characters");
            return -1;
        }
        st->label = v->valuestring;
    }

    cfg = cJSON_GetObjectItemCaseSensitive(proc, "ProcessorConfig");
    v = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "ExecutionType") : NULL;

    if (v) {
        if (!st->distributed || !cJSON_IsString(v)
            || (strcmp(v->valuestring, "STANDARD") != 0
                && strcmp(v->valuestring, "EXPRESS") != 0))
        {
            SFN_LOC(loc, base, "ItemProcessor/ProcessorConfig");
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "ExecutionType must be STANDARD or EXPRESS, with "
                          "the DISTRIBUTED mode");
            return -1;
        }
        st->express = strcmp(v->valuestring, "EXPRESS") == 0;
    }

    st->reader_resource = sfn_load_map_io(ld, st, obj, "ItemReader", base,
                                          &st->reader_params,
                                          &st->q_reader_args,
                                          &st->reader_config,
                                          "ReaderConfig");
    if (ld->failed) {
        return -1;
    }

    st->writer_resource = sfn_load_map_io(ld, st, obj, "ResultWriter", base,
                                          &st->writer_params,
                                          &st->q_writer_args,
                                          &st->writer_config,
                                          "WriterConfig");
    if (ld->failed) {
        return -1;
    }

    rc = st->reader_config;
    if (rc) {
        SFN_LOC(loc, base, "ItemReader/ReaderConfig");

        if (sfn_load_reader_config(ld, st, rc, loc) != 0) {
            return -1;
        }

        v = cJSON_GetObjectItemCaseSensitive(rc, "MaxItems");
        if (v && !sfn_is_posint(v, &max, 0, 100000000)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "MaxItems must be an integer from 0 to 100000000");
            return -1;
        }

        st->reader_max_items_path = sfn_load_path(ld, rc, "MaxItemsPath",
                                                  st->name, loc, 1, &is_null,
                                                  0);
        if (ld->failed) {
            return -1;
        }
    }

    if (st->writer_config) {
        SFN_LOC(loc, base, "ResultWriter/WriterConfig");

        if (sfn_load_config(ld, st, st->writer_config, loc,
                            sfn_writer_config)
            != 0)
        {
            return -1;
        }
    }

    if (!st->distributed) {
        return 0;
    }

    def = cJSON_Duplicate(proc, 1);
    if (def == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, base,
                      "out of memory");
        return -1;
    }

    cJSON_DeleteItemFromObjectCaseSensitive(def, "ProcessorConfig");

    if (st->jsonata
        && cJSON_GetObjectItemCaseSensitive(def, "QueryLanguage") == NULL)
    {
        cJSON_AddStringToObject(def, "QueryLanguage", "JSONata");
    }

    text = cJSON_PrintUnformatted(def);
    cJSON_Delete(def);

    st->processor = text ? sfn_pstrdup(&ld->m->pool, text) : NULL;
    free(text);

    if (st->processor == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, base,
                      "out of memory");
        return -1;
    }

    return 0;
}


static int
sfn_load_map(sfn_load_t *ld, sfn_state_t *st, const cJSON *obj,
    const char *base)
{
    int           is_null, distributed;
    char          loc[600];
    const cJSON  *it, *ip, *v, *b;

    it = cJSON_GetObjectItemCaseSensitive(obj, "Iterator");
    ip = cJSON_GetObjectItemCaseSensitive(obj, "ItemProcessor");

    if ((it == NULL) == (ip == NULL)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, base,
                      "A Map state needs exactly one of ItemProcessor, "
                      "Iterator");
        return -1;
    }

    SFN_LOC(loc, base, it ? "Iterator" : "ItemProcessor");

    st->iterator = sfn_load_processor(ld, it ? it : ip, loc, st->name,
                                      &distributed);
    if (st->iterator == NULL) {
        return -1;
    }

    st->distributed = distributed;

    if (sfn_load_distributed(ld, st, obj, it ? it : ip, base) != 0) {
        return -1;
    }

    st->items_path = sfn_load_path(ld, obj, "ItemsPath", st->name, base, 1,
                                   &is_null, 0);

    if (cJSON_GetObjectItemCaseSensitive(obj, "ItemSelector")
        && cJSON_GetObjectItemCaseSensitive(obj, "Parameters"))
    {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, base,
                      "The fields 'ItemSelector' and 'Parameters' are "
                      "mutually exclusive");
        return -1;
    }

    if (st->jsonata) {
        st->q_item_selector = sfn_load_query(ld, obj, "ItemSelector",
                                             st->name, base);
        st->items = sfn_load_query(ld, obj, "Items", st->name, base);

        if (ld->failed) {
            return -1;
        }

        if (st->items && !sfn_qtmpl_is_expr(st->items)
            && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(obj, "Items")))
        {
            SFN_LOC(loc, base, "Items");
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The value for the field 'Items' must be an ARRAY "
                          "or a JSONata expression");
            return -1;
        }

    } else {
        st->item_selector = sfn_load_tmpl(ld, obj, "ItemSelector", st->name,
                                          base);
    }
    if (st->item_selector == NULL) {
        /* the older name; applies per item, not to the state */
        st->item_selector = st->parameters;
    }
    st->parameters = NULL;

    st->tolerated_count = -1;
    st->tolerated_pct = -1;

    static const struct {
        const char   *field;
        size_t        offset;
    }  qfields[] = {
        { "MaxConcurrency", offsetof(sfn_state_t, q_max_concurrency) },
        { "ToleratedFailureCount", offsetof(sfn_state_t, q_tolerated_count) },
        { "ToleratedFailurePercentage",
          offsetof(sfn_state_t, q_tolerated_pct) }
    };

    for (size_t i = 0; i < sfn_nelems(qfields); i++) {
        v = cJSON_GetObjectItemCaseSensitive(obj, qfields[i].field);
        if (sfn_is_query(st, v)) {
            *(sfn_qtmpl_t **) ((char *) st + qfields[i].offset) =
                sfn_load_query(ld, obj, qfields[i].field, st->name, base);
        }
    }

    if (ld->failed) {
        return -1;
    }

    v = cJSON_GetObjectItemCaseSensitive(obj, "MaxConcurrency");
    if (v && !st->q_max_concurrency && !sfn_is_posint(v, &st->max_concurrency, 0, 99999999)) {
        SFN_LOC(loc, base, "MaxConcurrency");
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The value for the field 'MaxConcurrency' must be a "
                      "non-negative integer");
        return -1;
    }

    v = cJSON_GetObjectItemCaseSensitive(obj, "ToleratedFailureCount");
    if (v && !st->q_tolerated_count && !sfn_is_posint(v, &st->tolerated_count, 0, 99999999)) {
        SFN_LOC(loc, base, "ToleratedFailureCount");
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                      "The value for the field 'ToleratedFailureCount' "
                      "must be a non-negative integer");
        return -1;
    }

    v = cJSON_GetObjectItemCaseSensitive(obj, "ToleratedFailurePercentage");
    if (v && !st->q_tolerated_pct) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0
            || v->valuedouble > 100)
        {
            SFN_LOC(loc, base, "ToleratedFailurePercentage");
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The value for the field "
                          "'ToleratedFailurePercentage' must be a number "
                          "between 0 and 100");
            return -1;
        }
        st->tolerated_pct = v->valuedouble;
    }

    st->max_concurrency_path = sfn_load_path(ld, obj, "MaxConcurrencyPath",
                                             st->name, base, 1, &is_null, 0);
    st->tolerated_count_path = sfn_load_path(ld, obj,
                                             "ToleratedFailureCountPath",
                                             st->name, base, 1, &is_null, 0);
    st->tolerated_pct_path = sfn_load_path(ld, obj,
                                           "ToleratedFailurePercentagePath",
                                           st->name, base, 1, &is_null, 0);

    if (ld->failed) {
        return -1;
    }

    if ((st->max_concurrency_path
         && cJSON_GetObjectItemCaseSensitive(obj, "MaxConcurrency"))
        || (st->tolerated_count_path && st->tolerated_count >= 0)
        || (st->tolerated_pct_path && st->tolerated_pct >= 0))
    {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, base,
                      "A field and its Path form are mutually exclusive");
        return -1;
    }

    b = cJSON_GetObjectItemCaseSensitive(obj, "ItemBatcher");
    if (b) {
        SFN_LOC(loc, base, "ItemBatcher");

        if (!cJSON_IsObject(b)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "The value for the field 'ItemBatcher' must be "
                          "an OBJECT");
            return -1;
        }

        st->batching = 1;

        /* JSONata: BatchInput a value with expressions, the maxima too */
        if (st->jsonata) {
            st->q_batch_input = sfn_load_query(ld, b, "BatchInput",
                                               st->name, loc);

            v = cJSON_GetObjectItemCaseSensitive(b, "MaxItemsPerBatch");
            if (sfn_is_query(st, v)) {
                st->q_batch_max_items = sfn_load_query(ld, b,
                                                       "MaxItemsPerBatch",
                                                       st->name, loc);
            }

            v = cJSON_GetObjectItemCaseSensitive(b, "MaxInputBytesPerBatch");
            if (sfn_is_query(st, v)) {
                st->q_batch_max_bytes = sfn_load_query(ld, b,
                                                   "MaxInputBytesPerBatch",
                                                   st->name, loc);
            }

            if (ld->failed) {
                return -1;
            }
        }

        v = cJSON_GetObjectItemCaseSensitive(b, "MaxItemsPerBatch");
        if (v && !st->q_batch_max_items
            && !sfn_is_posint(v, &st->batch_max_items, 1, 99999999))
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "MaxItemsPerBatch must be a positive integer");
            return -1;
        }

        v = cJSON_GetObjectItemCaseSensitive(b, "MaxInputBytesPerBatch");
        if (v && !st->q_batch_max_bytes
            && !sfn_is_posint(v, &st->batch_max_bytes, 1, SFN_MAX_PAYLOAD))
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "MaxInputBytesPerBatch must be a positive "
                          "integer up to 262144");
            return -1;
        }

        st->batch_max_items_path = sfn_load_path(ld, b,
                                                 "MaxItemsPerBatchPath",
                                                 st->name, loc, 1, &is_null,
                                                 0);
        st->batch_max_bytes_path = sfn_load_path(ld, b,
                                                 "MaxInputBytesPerBatchPath",
                                                 st->name, loc, 1, &is_null,
                                                 0);
        if (!st->jsonata) {
            st->batch_input = sfn_load_tmpl(ld, b, "BatchInput", st->name,
                                            loc);
        }

        if (ld->failed) {
            return -1;
        }

        if (!st->batch_max_items && !st->batch_max_bytes
            && !st->batch_max_items_path && !st->batch_max_bytes_path
            && !st->q_batch_max_items && !st->q_batch_max_bytes)
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", st->name, loc,
                          "ItemBatcher needs MaxItemsPerBatch or "
                          "MaxInputBytesPerBatch");
            return -1;
        }
    }

    return 0;
}


static sfn_state_t *
sfn_load_state(sfn_load_t *ld, const char *name, const cJSON *obj,
    const char *base)
{
    int           i, is_null;
    char          loc[600];
    size_t        n;
    sfn_state_t  *st;
    const cJSON  *v, *c;

    st = sfn_pcalloc(&ld->m->pool, sizeof(sfn_state_t));
    if (st == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, base,
                      "out of memory");
        return NULL;
    }

    st->name = name;

    if (strlen(name) == 0 || strlen(name) > SFN_MAX_STATE_NAME) {
        sfn_load_fail(ld, "INVALID_STATE_NAME", name, base,
                      "State names must be 1 to 80 characters long");
        return NULL;
    }

    if (!cJSON_IsObject(obj)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, base,
                      "A state must be an OBJECT");
        return NULL;
    }

    v = cJSON_GetObjectItemCaseSensitive(obj, "Type");
    if (v == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, base,
                      "These fields are required: [Type]");
        return NULL;
    }

    SFN_LOC(loc, base, "Type");

    for (i = 0; i < (int) sfn_nelems(sfn_type_names); i++) {
        if (cJSON_IsString(v) && strcmp(v->valuestring, sfn_type_names[i])
                                 == 0)
        {
            break;
        }
    }

    if (i == (int) sfn_nelems(sfn_type_names)) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                      "The value for the field 'Type' must be one of "
                      "[Pass, Task, Choice, Wait, Succeed, Fail, Parallel, "
                      "Map]");
        return NULL;
    }

    st->type = (sfn_state_type_e) i;
    st->type_name = sfn_type_names[i];

    v = cJSON_GetObjectItemCaseSensitive(obj, "QueryLanguage");
    st->jsonata = ld->m->jsonata;

    if (v) {
        SFN_LOC(loc, base, "QueryLanguage");

        if (!cJSON_IsString(v)
            || (strcmp(v->valuestring, "JSONPath") != 0
                && strcmp(v->valuestring, "JSONata") != 0))
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                          "The value for the field 'QueryLanguage' must be "
                          "one of [JSONPath, JSONata]");
            return NULL;
        }

        if (ld->m->jsonata && strcmp(v->valuestring, "JSONPath") == 0) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                          "A state cannot use the JSONPath query language "
                          "when the state machine's QueryLanguage is "
                          "JSONata");
            return NULL;
        }

        st->jsonata = strcmp(v->valuestring, "JSONata") == 0;
    }

    cJSON_ArrayForEach(c, obj) {
        SFN_LOC(loc, base, c->string);

        if (!sfn_in_list(sfn_fields_common, c->string)
            && !sfn_in_list(sfn_fields_by_type[st->type], c->string))
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                          "Field '%s' is not supported by a %s state",
                          c->string, st->type_name);
            return NULL;
        }

        if (sfn_in_list(st->jsonata ? sfn_fields_jsonpath
                                    : sfn_fields_jsonata, c->string))
        {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                          "The field '%s' is not supported by a state that "
                          "uses the %s query language", c->string,
                          st->jsonata ? "JSONata" : "JSONPath");
            return NULL;
        }
    }

    /* transitions */

    if (st->type != SFN_ST_CHOICE && st->type != SFN_ST_SUCCEED
        && st->type != SFN_ST_FAIL)
    {
        v = cJSON_GetObjectItemCaseSensitive(obj, "Next");
        c = cJSON_GetObjectItemCaseSensitive(obj, "End");

        if (c && !cJSON_IsBool(c)) {
            SFN_LOC(loc, base, "End");
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                          "The value for the field 'End' must be a "
                          "BOOLEAN");
            return NULL;
        }

        if (v && !cJSON_IsString(v)) {
            SFN_LOC(loc, base, "Next");
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                          "The value for the field 'Next' must be a "
                          "STRING");
            return NULL;
        }

        if (v && cJSON_IsTrue(c)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, base,
                          "The fields 'Next' and 'End' are mutually "
                          "exclusive");
            return NULL;
        }

        if (v == NULL && !cJSON_IsTrue(c)) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, base,
                          "These fields are required: [Next]; or set "
                          "\"End\": true");
            return NULL;
        }

        if (v) {
            st->next_name = v->valuestring;
        } else {
            st->end = 1;
        }
    }

    st->input_path = sfn_load_path(ld, obj, "InputPath", name, base, 0,
                                   &is_null, 1);
    st->input_path_null = is_null;
    st->output_path = sfn_load_path(ld, obj, "OutputPath", name, base, 0,
                                    &is_null, 1);
    st->output_path_null = is_null;
    st->result_path = sfn_load_path(ld, obj, "ResultPath", name, base, 1,
                                    &is_null, 1);
    st->result_path_null = is_null;

    if (ld->failed) {
        return NULL;
    }

    /* "$" is the default: NULL keeps the fast path */
    if (st->input_path && sfn_path_is_root(st->input_path)) {
        st->input_path = NULL;
    }
    if (st->output_path && sfn_path_is_root(st->output_path)) {
        st->output_path = NULL;
    }
    if (st->result_path && sfn_path_is_root(st->result_path)) {
        st->result_path = NULL;
    }

    st->parameters = sfn_load_tmpl(ld, obj, "Parameters", name, base);
    st->result_selector = sfn_load_tmpl(ld, obj, "ResultSelector", name,
                                        base);
    st->result = cJSON_GetObjectItemCaseSensitive(obj, "Result");

    if (st->jsonata) {
        st->output = sfn_load_query(ld, obj, "Output", name, base);
        st->arguments = sfn_load_query(ld, obj, "Arguments", name, base);
    }

    if (ld->failed
        || sfn_load_assign(ld, obj, st->jsonata, name, base, &st->assign,
                           &st->qassign) != 0)
    {
        return NULL;
    }

    if (ld->failed
        || sfn_load_retry(ld, st, obj, base) != 0
        || sfn_load_catch(ld, st, obj, base) != 0)
    {
        return NULL;
    }

    switch (st->type) {

    case SFN_ST_TASK:
        if (sfn_load_task(ld, st, obj, base) != 0) {
            return NULL;
        }
        break;

    case SFN_ST_CHOICE:
        v = cJSON_GetObjectItemCaseSensitive(obj, "Choices");
        SFN_LOC(loc, base, "Choices");

        if (v == NULL) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, base,
                          "These fields are required: [Choices]");
            return NULL;
        }

        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                          "The value for the field 'Choices' must be a "
                          "non-empty ARRAY");
            return NULL;
        }

        n = cJSON_GetArraySize(v);
        st->choices = sfn_palloc(&ld->m->pool, n * sizeof(sfn_rule_t *));
        if (st->choices == NULL) {
            return NULL;
        }

        st->nchoices = n;
        n = 0;

        cJSON_ArrayForEach(c, v) {
            snprintf(loc, sizeof(loc), "%s/Choices[%zu]", base, n);
            st->choices[n] = st->jsonata
                             ? sfn_load_condition(ld, c, name, loc)
                             : sfn_load_rule(ld, c, name, loc, 1, 0);
            if (st->choices[n] == NULL) {
                return NULL;
            }
            n++;
        }

        v = cJSON_GetObjectItemCaseSensitive(obj, "Default");
        if (v) {
            if (!cJSON_IsString(v)) {
                SFN_LOC(loc, base, "Default");
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                              "The value for the field 'Default' must be a "
                              "STRING");
                return NULL;
            }
            st->deflt_name = v->valuestring;
        }
        break;

    case SFN_ST_WAIT:
        if (sfn_load_wait(ld, st, obj, base) != 0) {
            return NULL;
        }
        break;

    case SFN_ST_FAIL:
        if (sfn_load_fail_state(ld, st, obj, base) != 0) {
            return NULL;
        }
        break;

    case SFN_ST_PARALLEL:
        v = cJSON_GetObjectItemCaseSensitive(obj, "Branches");
        SFN_LOC(loc, base, "Branches");

        if (v == NULL) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, base,
                          "These fields are required: [Branches]");
            return NULL;
        }

        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                          "The value for the field 'Branches' must be a "
                          "non-empty ARRAY");
            return NULL;
        }

        n = cJSON_GetArraySize(v);
        st->branches = sfn_palloc(&ld->m->pool, n * sizeof(sfn_graph_t *));
        if (st->branches == NULL) {
            return NULL;
        }

        st->nbranches = n;
        n = 0;

        cJSON_ArrayForEach(c, v) {
            snprintf(loc, sizeof(loc), "%s/Branches[%zu]", base, n);
            if (!cJSON_IsObject(c)) {
                sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", name, loc,
                              "A branch must be an OBJECT");
                return NULL;
            }
            st->branches[n] = sfn_load_graph(ld, c, loc, name);
            if (st->branches[n] == NULL) {
                return NULL;
            }
            n++;
        }
        break;

    case SFN_ST_MAP:
        if (sfn_load_map(ld, st, obj, base) != 0) {
            return NULL;
        }
        break;

    default:
        break;
    }

    return st;
}


static sfn_state_t *
sfn_graph_find(sfn_graph_t *g, const char *name)
{
    size_t  i;

    for (i = 0; i < g->nstates; i++) {
        if (strcmp(g->states[i]->name, name) == 0) {
            return g->states[i];
        }
    }

    return NULL;
}


static int
sfn_resolve(sfn_load_t *ld, sfn_graph_t *g, const char *name,
    sfn_state_t **out, const char *state, const char *loc)
{
    *out = sfn_graph_find(g, name);

    if (*out == NULL) {
        sfn_load_fail(ld, "MISSING_TRANSITION_TARGET", state, loc,
                      "Missing 'Next' target: %s", name);
        return -1;
    }

    return 0;
}


static int
sfn_resolve_rules(sfn_load_t *ld, sfn_graph_t *g, sfn_state_t *st,
    const char *base)
{
    char    loc[600];
    size_t  i;

    for (i = 0; i < st->nchoices; i++) {
        snprintf(loc, sizeof(loc), "%s/Choices[%zu]/Next", base, i);
        if (sfn_resolve(ld, g, st->choices[i]->next_name,
                        &st->choices[i]->next, st->name, loc) != 0)
        {
            return -1;
        }
    }

    if (st->deflt_name) {
        SFN_LOC(loc, base, "Default");
        if (sfn_resolve(ld, g, st->deflt_name, &st->deflt, st->name, loc)
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


static void
sfn_mark(sfn_state_t *st, unsigned char *seen, sfn_graph_t *g)
{
    size_t  i, k;

    for (k = 0; k < g->nstates; k++) {
        if (g->states[k] == st) {
            break;
        }
    }

    if (k == g->nstates || seen[k]) {
        return;
    }

    seen[k] = 1;

    if (st->next) {
        sfn_mark(st->next, seen, g);
    }

    for (i = 0; i < st->nchoices; i++) {
        sfn_mark(st->choices[i]->next, seen, g);
    }

    if (st->deflt) {
        sfn_mark(st->deflt, seen, g);
    }

    for (i = 0; i < st->ncatchers; i++) {
        sfn_mark(st->catchers[i].next, seen, g);
    }
}


static sfn_graph_t *
sfn_load_graph(sfn_load_t *ld, const cJSON *obj, const char *base,
    const char *owner)
{
    int            terminal, bad;
    char           loc[600], sloc[900];
    size_t         n, i;
    sfn_graph_t   *g;
    sfn_state_t   *st;
    const cJSON   *states, *start, *c;
    unsigned char *seen;

    static const char *fields[] = {
        "StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage",
        NULL
    };

    cJSON_ArrayForEach(c, obj) {
        if (!sfn_in_list(fields, c->string)
            && !(owner == NULL && (strcmp(c->string, "Version") == 0
                                   || strcmp(c->string, "TimeoutSeconds")
                                      == 0)))
        {
            SFN_LOC(loc, base, c->string);
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", owner, loc,
                          "Field '%s' is not supported", c->string);
            return NULL;
        }
    }

    start = cJSON_GetObjectItemCaseSensitive(obj, "StartAt");
    states = cJSON_GetObjectItemCaseSensitive(obj, "States");

    if (start == NULL || states == NULL) {
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", owner, base,
                      "These fields are required: [%s]",
                      start == NULL && states == NULL ? "StartAt, States"
                      : (start == NULL ? "StartAt" : "States"));
        return NULL;
    }

    if (!cJSON_IsString(start)) {
        SFN_LOC(loc, base, "StartAt");
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", owner, loc,
                      "The value for the field 'StartAt' must be a STRING");
        return NULL;
    }

    if (!cJSON_IsObject(states) || states->child == NULL) {
        SFN_LOC(loc, base, "States");
        sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", owner, loc,
                      "The value for the field 'States' must be a "
                      "non-empty OBJECT");
        return NULL;
    }

    g = sfn_pcalloc(&ld->m->pool, sizeof(sfn_graph_t));
    if (g == NULL) {
        return NULL;
    }

    n = cJSON_GetArraySize(states);
    g->states = sfn_pcalloc(&ld->m->pool, n * sizeof(sfn_state_t *));
    if (g->states == NULL) {
        return NULL;
    }

    i = 0;
    bad = 0;

    cJSON_ArrayForEach(c, states) {
        snprintf(sloc, sizeof(sloc), "%s/States/%s", base, c->string);

        if (sfn_load_names(ld, c->string, sloc) != 0) {
            return NULL;
        }

        st = sfn_load_state(ld, c->string, c, sloc);
        if (st == NULL) {
            if (sfn_load_go_on(ld)) {
                bad = 1;
                continue;
            }

            return NULL;
        }

        g->states[i++] = st;
    }

    /* the transitions of a graph with failed states are not looked at */

    if (bad) {
        ld->failed = 1;
        return NULL;
    }

    g->nstates = n;

    g->start = sfn_graph_find(g, start->valuestring);
    if (g->start == NULL) {
        SFN_LOC(loc, base, "StartAt");
        sfn_load_fail(ld, "MISSING_TRANSITION_TARGET", owner, loc,
                      "Missing 'StartAt' target: %s", start->valuestring);
        return NULL;
    }

    terminal = 0;

    for (i = 0; i < n; i++) {
        st = g->states[i];
        snprintf(sloc, sizeof(sloc), "%s/States/%s", base, st->name);

        if (st->next_name) {
            SFN_LOC(loc, sloc, "Next");
            if (sfn_resolve(ld, g, st->next_name, &st->next, st->name, loc)
                != 0)
            {
                if (!sfn_load_go_on(ld)) {
                    return NULL;
                }

                bad = 1;
            }
        }

        if (sfn_resolve_rules(ld, g, st, sloc) != 0) {
            if (!sfn_load_go_on(ld)) {
                return NULL;
            }

            bad = 1;
        }

        for (size_t k = 0; k < st->ncatchers; k++) {
            snprintf(loc, sizeof(loc), "%s/Catch[%zu]/Next", sloc, k);
            if (sfn_resolve(ld, g, st->catchers[k].next_name,
                            &st->catchers[k].next, st->name, loc) != 0)
            {
                if (!sfn_load_go_on(ld)) {
                    return NULL;
                }

                bad = 1;
            }
        }

        if (st->end || st->type == SFN_ST_SUCCEED
            || st->type == SFN_ST_FAIL)
        {
            terminal = 1;
        }
    }

    if (bad) {
        ld->failed = 1;
        return NULL;
    }

    if (!terminal) {
        sfn_load_fail(ld, "MISSING_END_STATE", owner, base,
                      "Workflow has no terminal state");
        return NULL;
    }

    seen = calloc(n, 1);
    if (seen == NULL) {
        return NULL;
    }

    sfn_mark(g->start, seen, g);

    for (i = 0; i < n; i++) {
        if (!seen[i]) {
            snprintf(sloc, sizeof(sloc), "%s/States/%s", base,
                     g->states[i]->name);
            sfn_load_fail(ld, "SCHEMA_VALIDATION_FAILED", g->states[i]->name,
                          sloc, "State \"%s\" is not reachable",
                          g->states[i]->name);

            if (!sfn_load_go_on(ld)) {
                free(seen);
                return NULL;
            }

            bad = 1;
        }
    }

    free(seen);

    if (bad) {
        ld->failed = 1;
        return NULL;
    }

    return g;
}


sfn_machine_t *
sfn_machine_load(const char *json, size_t len, sfn_resource_known_pt known,
    void *data, sfn_diag_t *diag)
{
    size_t  n;

    return sfn_machine_load_all(json, len, known, data, diag, 1, &n);
}


sfn_machine_t *
sfn_machine_load_all(const char *json, size_t len,
    sfn_resource_known_pt known, void *data, sfn_diag_t *diag, size_t max,
    size_t *ndiag)
{
    int64_t         iv;
    sfn_pool_t      pool;
    sfn_load_t      ld;
    const cJSON    *v, *c;
    sfn_machine_t  *m;

    static const char *fields[] = {
        "StartAt", "States", "Comment", "Version", "TimeoutSeconds",
        "QueryLanguage", NULL
    };

    if (diag) {
        memset(diag, 0, max * sizeof(sfn_diag_t));
    }

    *ndiag = 0;

    memset(&ld, 0, sizeof(sfn_load_t));
    ld.diag = diag;
    ld.max = max;
    ld.known = known;
    ld.data = data;

    if (len == 0) {
        sfn_load_fail(&ld, "MISSING_DESCRIPTION", NULL, "",
                      "The definition is empty");
        *ndiag = ld.ndiag;
        return NULL;
    }

    memset(&pool, 0, sizeof(sfn_pool_t));

    m = sfn_pcalloc(&pool, sizeof(sfn_machine_t));
    if (m == NULL) {
        sfn_load_fail(&ld, "SCHEMA_VALIDATION_FAILED", NULL, "",
                      "out of memory");
        *ndiag = ld.ndiag;
        return NULL;
    }

    m->pool = pool;
    ld.m = m;

    m->root = sfn_json_parse(json, len);

    if (m->root == NULL) {
        sfn_load_fail(&ld, "INVALID_JSON_DESCRIPTION", NULL, "",
                      "The definition is not valid JSON");
        goto failed;
    }

    if (!cJSON_IsObject(m->root)) {
        sfn_load_fail(&ld, "SCHEMA_VALIDATION_FAILED", NULL, "",
                      "The definition must be a JSON object");
        goto failed;
    }

    cJSON_ArrayForEach(c, m->root) {
        if (!sfn_in_list(fields, c->string)) {
            sfn_load_fail(&ld, "SCHEMA_VALIDATION_FAILED", NULL, "",
                          "Field '%s' is not supported by Step Functions",
                          c->string);
            goto failed;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(m->root, "QueryLanguage");
    if (v) {
        if (!cJSON_IsString(v)
            || (strcmp(v->valuestring, "JSONPath") != 0
                && strcmp(v->valuestring, "JSONata") != 0))
        {
            sfn_load_fail(&ld, "SCHEMA_VALIDATION_FAILED", NULL,
                          "/QueryLanguage",
                          "The value for the field 'QueryLanguage' must be "
                          "one of [JSONPath, JSONata]");
            goto failed;
        }

        m->jsonata = strcmp(v->valuestring, "JSONata") == 0;
    }

    v = cJSON_GetObjectItemCaseSensitive(m->root, "Version");
    if (v && (!cJSON_IsString(v) || strcmp(v->valuestring, "1.0"))) {
        sfn_load_fail(&ld, "SCHEMA_VALIDATION_FAILED", NULL, "/Version",
                      "The value for the field 'Version' must be \"1.0\"");
        goto failed;
    }

    v = cJSON_GetObjectItemCaseSensitive(m->root, "TimeoutSeconds");
    if (v) {
        if (!sfn_is_posint(v, &iv, 1, 99999999)) {
            sfn_load_fail(&ld, "SCHEMA_VALIDATION_FAILED", NULL,
                          "/TimeoutSeconds",
                          "The value for the field 'TimeoutSeconds' must "
                          "be a positive integer");
            goto failed;
        }
        m->timeout_ms = iv * 1000;
    }

    m->main = sfn_load_graph(&ld, m->root, "", NULL);

    if (m->main == NULL || ld.failed) {
        if (!ld.failed) {
            sfn_load_fail(&ld, "SCHEMA_VALIDATION_FAILED", NULL, "",
                          "out of memory");
        }
        goto failed;
    }

    free(ld.names);

    return m;

failed:

    *ndiag = ld.ndiag;

    free(ld.names);
    sfn_machine_free(m);

    return NULL;
}


void
sfn_machine_free(sfn_machine_t *m)
{
    size_t      i;
    sfn_pool_t  pool;

    if (m == NULL) {
        return;
    }

    cJSON_Delete(m->root);

    for (i = 0; i < m->nprogs; i++) {
        sfn_jsonata_free(m->progs[i]);
    }

    free(m->progs);

    pool = m->pool;
    sfn_pool_destroy(&pool);
}


int64_t
sfn_machine_timeout_ms(const sfn_machine_t *m)
{
    return m->timeout_ms;
}


/* the state of that name in g or in its branches and iterators, or NULL */
const sfn_state_t *
sfn_graph_state(const sfn_graph_t *g, const char *name)
{
    size_t              i, k;
    const sfn_state_t  *st, *r;

    for (i = 0; i < g->nstates; i++) {
        st = g->states[i];

        if (strcmp(st->name, name) == 0) {
            return st;
        }

        for (k = 0; k < st->nbranches; k++) {
            r = sfn_graph_state(st->branches[k], name);
            if (r) {
                return r;
            }
        }

        if (st->iterator) {
            r = sfn_graph_state(st->iterator, name);
            if (r) {
                return r;
            }
        }
    }

    return NULL;
}


void
sfn_machine_resources(const sfn_machine_t *m,
    void (*cb)(void *data, const char *resource), void *data)
{
    size_t  i;

    for (i = 0; i < m->nresources; i++) {
        cb(data, m->resources[i]);
    }
}


int
sfn_machine_check_type(const sfn_machine_t *m, sfn_type_e type,
    sfn_diag_t *diag)
{
    size_t             i;
    const char        *r, *suffix;
    size_t             len;

    if (type != SFN_EXPRESS
        || (!m->uses_sync && !m->uses_token && !m->uses_activity))
    {
        return SFN_OK;
    }

    if (m->uses_activity) {
        if (diag) {
            memset(diag, 0, sizeof(sfn_diag_t));
            snprintf(diag->code, sizeof(diag->code),
                     "SCHEMA_VALIDATION_FAILED");
            snprintf(diag->message, sizeof(diag->message),
                     "Express state machine does not support Activity ARN");
        }

        return SFN_ERROR;
    }

    for (i = 0; i < m->nresources; i++) {
        r = m->resources[i];
        len = strlen(r);
        suffix = NULL;

        if (len > 5 && strcmp(r + len - 5, ".sync") == 0) {
            suffix = ".sync";
        } else if (len > 17 && strcmp(r + len - 17, ".waitForTaskToken") == 0)
        {
            suffix = ".waitForTaskToken";
        }

        if (suffix && diag) {
            memset(diag, 0, sizeof(sfn_diag_t));
            snprintf(diag->code, sizeof(diag->code),
                     "SCHEMA_VALIDATION_FAILED");
            snprintf(diag->message, sizeof(diag->message),
                     "Express state machine does not support '%s' service "
                     "integration", suffix);
        }

        if (suffix) {
            return SFN_ERROR;
        }
    }

    return SFN_OK;
}

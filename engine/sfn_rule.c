
/*
 * Copyright (C) ngx_sfn authors
 *
 * Choice rules: the comparison operators by name, and evaluating a
 * compiled rule against a state's input.  The loader (sfn_machine.c)
 * compiles rules; this file only reads them.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"


/* the comparison operator of a Choice rule field, with its value kind */
sfn_op_e
sfn_rule_op(const char *name, int *is_path, int *kind)
{
    size_t   i, len;
    char     base[64];

    static const struct {
        const char  *name;
        sfn_op_e     op;
        int          kind;      /* 1 string 2 number 3 bool 4 ts 5 is */
    } ops[] = {
        { "StringEquals", SFN_OP_STRING_EQ, 1 },
        { "StringLessThan", SFN_OP_STRING_LT, 1 },
        { "StringGreaterThan", SFN_OP_STRING_GT, 1 },
        { "StringLessThanEquals", SFN_OP_STRING_LE, 1 },
        { "StringGreaterThanEquals", SFN_OP_STRING_GE, 1 },
        { "StringMatches", SFN_OP_STRING_MATCHES, 1 },
        { "NumericEquals", SFN_OP_NUMERIC_EQ, 2 },
        { "NumericLessThan", SFN_OP_NUMERIC_LT, 2 },
        { "NumericGreaterThan", SFN_OP_NUMERIC_GT, 2 },
        { "NumericLessThanEquals", SFN_OP_NUMERIC_LE, 2 },
        { "NumericGreaterThanEquals", SFN_OP_NUMERIC_GE, 2 },
        { "BooleanEquals", SFN_OP_BOOLEAN_EQ, 3 },
        { "TimestampEquals", SFN_OP_TIMESTAMP_EQ, 4 },
        { "TimestampLessThan", SFN_OP_TIMESTAMP_LT, 4 },
        { "TimestampGreaterThan", SFN_OP_TIMESTAMP_GT, 4 },
        { "TimestampLessThanEquals", SFN_OP_TIMESTAMP_LE, 4 },
        { "TimestampGreaterThanEquals", SFN_OP_TIMESTAMP_GE, 4 },
        { "IsNull", SFN_OP_IS_NULL, 5 },
        { "IsPresent", SFN_OP_IS_PRESENT, 5 },
        { "IsNumeric", SFN_OP_IS_NUMERIC, 5 },
        { "IsString", SFN_OP_IS_STRING, 5 },
        { "IsBoolean", SFN_OP_IS_BOOLEAN, 5 },
        { "IsTimestamp", SFN_OP_IS_TIMESTAMP, 5 }
    };

    len = strlen(name);
    *is_path = 0;

    if (len > 4 && len < sizeof(base) && strcmp(name + len - 4, "Path") == 0)
    {
        memcpy(base, name, len - 4);
        base[len - 4] = '\0';

        for (i = 0; i < sfn_nelems(ops); i++) {
            if (ops[i].kind != 5 && strcmp(ops[i].name, base) == 0) {
                *is_path = 1;
                *kind = ops[i].kind;
                return ops[i].op;
            }
        }

        return 0;
    }

    for (i = 0; i < sfn_nelems(ops); i++) {
        if (strcmp(ops[i].name, name) == 0) {
            *kind = ops[i].kind;
            return ops[i].op;
        }
    }

    return 0;
}


static int
sfn_string_matches(const char *s, const char *p)
{
    const char  *star_p, *star_s;

    star_p = NULL;
    star_s = NULL;

    for ( ;; ) {
        if (*p == '*') {
            star_p = ++p;
            star_s = s;
            continue;
        }

        if (*p == '\\' && (p[1] == '*' || p[1] == '\\')) {
            if (*s == p[1]) {
                p += 2;
                s++;
                continue;
            }

        } else if (*p && *s == *p) {
            p++;
            s++;
            continue;

        } else if (*p == '\0' && *s == '\0') {
            return 1;
        }

        if (star_p == NULL || *star_s == '\0') {
            return 0;
        }

        p = star_p;
        s = ++star_s;
    }
}


static int
sfn_ts_cmp(int64_t as, int32_t an, int64_t bs, int32_t bn)
{
    if (as != bs) {
        return as < bs ? -1 : 1;
    }

    return an < bn ? -1 : (an > bn ? 1 : 0);
}


int
sfn_rule_eval(const sfn_rule_t *r, sfn_env_t *env, sfn_err_t *err)
{
    int           rc, c, owned, vowned;
    size_t        i;
    cJSON        *v, *pv;
    int64_t       as, bs;
    int32_t       an, bn;
    double        x, y;
    const char   *str;

    switch (r->op) {

    case SFN_OP_AND:
        for (i = 0; i < r->nsub; i++) {
            rc = sfn_rule_eval(r->sub[i], env, err);
            if (rc != 1) {
                return rc;
            }
        }
        return 1;

    case SFN_OP_OR:
        for (i = 0; i < r->nsub; i++) {
            rc = sfn_rule_eval(r->sub[i], env, err);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;

    case SFN_OP_NOT:
        rc = sfn_rule_eval(r->sub[0], env, err);
        return rc < 0 ? rc : !rc;

    default:
        break;
    }

    if (sfn_path_eval(r->var, env, &v, &owned) != 0) {
        if (r->op == SFN_OP_IS_PRESENT) {
            return !r->boolean;
        }

        sfn_err_set(err, "States.Runtime",
                    "Invalid path '%s': The choice state's condition path "
                    "references an invalid value.", sfn_path_text(r->var));
        return -1;
    }

    pv = NULL;
    vowned = 0;

    if (r->is_path) {
        if (sfn_path_eval(r->vpath, env, &pv, &vowned) != 0) {
            if (owned) {
                cJSON_Delete(v);
            }

            sfn_err_set(err, "States.Runtime",
                        "Invalid path '%s': The choice state's condition "
                        "path references an invalid value.",
                        sfn_path_text(r->vpath));
            return -1;
        }
    }

    rc = 0;

    switch (r->op) {

    case SFN_OP_IS_PRESENT:
        rc = r->boolean;
        break;

    case SFN_OP_IS_NULL:
        rc = cJSON_IsNull(v) == r->boolean;
        break;

    case SFN_OP_IS_NUMERIC:
        rc = (cJSON_IsNumber(v) != 0) == r->boolean;
        break;

    case SFN_OP_IS_STRING:
        rc = (cJSON_IsString(v) != 0) == r->boolean;
        break;

    case SFN_OP_IS_BOOLEAN:
        rc = (cJSON_IsBool(v) != 0) == r->boolean;
        break;

    case SFN_OP_IS_TIMESTAMP:
        c = cJSON_IsString(v)
            && sfn_time_parse(v->valuestring, strlen(v->valuestring), &as,
                              &an) == 0;
        rc = c == r->boolean;
        break;

    case SFN_OP_STRING_EQ:
    case SFN_OP_STRING_LT:
    case SFN_OP_STRING_GT:
    case SFN_OP_STRING_LE:
    case SFN_OP_STRING_GE:
    case SFN_OP_STRING_MATCHES:
        str = r->is_path ? (cJSON_IsString(pv) ? pv->valuestring : NULL)
                         : r->str;

        if (!cJSON_IsString(v) || str == NULL) {
            break;
        }

        if (r->op == SFN_OP_STRING_MATCHES) {
            rc = sfn_string_matches(v->valuestring, str);
            break;
        }

        c = strcmp(v->valuestring, str);

        switch (r->op) {
        case SFN_OP_STRING_EQ: rc = c == 0; break;
        case SFN_OP_STRING_LT: rc = c < 0; break;
        case SFN_OP_STRING_GT: rc = c > 0; break;
        case SFN_OP_STRING_LE: rc = c <= 0; break;
        default:               rc = c >= 0; break;
        }
        break;

    case SFN_OP_NUMERIC_EQ:
    case SFN_OP_NUMERIC_LT:
    case SFN_OP_NUMERIC_GT:
    case SFN_OP_NUMERIC_LE:
    case SFN_OP_NUMERIC_GE:
        if (!cJSON_IsNumber(v) || (r->is_path && !cJSON_IsNumber(pv))) {
            break;
        }

        x = v->valuedouble;
        y = r->is_path ? pv->valuedouble : r->num;

        switch (r->op) {
        case SFN_OP_NUMERIC_EQ: rc = x == y; break;
        case SFN_OP_NUMERIC_LT: rc = x < y; break;
        case SFN_OP_NUMERIC_GT: rc = x > y; break;
        case SFN_OP_NUMERIC_LE: rc = x <= y; break;
        default:                rc = x >= y; break;
        }
        break;

    case SFN_OP_BOOLEAN_EQ:
        if (!cJSON_IsBool(v) || (r->is_path && !cJSON_IsBool(pv))) {
            break;
        }

        rc = (cJSON_IsTrue(v) != 0)
             == (r->is_path ? cJSON_IsTrue(pv) != 0 : r->boolean);
        break;

    default:
        /* timestamps */
        if (!cJSON_IsString(v)
            || sfn_time_parse(v->valuestring, strlen(v->valuestring), &as,
                              &an) != 0)
        {
            break;
        }

        if (r->is_path) {
            if (!cJSON_IsString(pv)
                || sfn_time_parse(pv->valuestring, strlen(pv->valuestring),
                                  &bs, &bn) != 0)
            {
                break;
            }

        } else {
            bs = r->ts_sec;
            bn = r->ts_nsec;
        }

        c = sfn_ts_cmp(as, an, bs, bn);

        switch (r->op) {
        case SFN_OP_TIMESTAMP_EQ: rc = c == 0; break;
        case SFN_OP_TIMESTAMP_LT: rc = c < 0; break;
        case SFN_OP_TIMESTAMP_GT: rc = c > 0; break;
        case SFN_OP_TIMESTAMP_LE: rc = c <= 0; break;
        default:                  rc = c >= 0; break;
        }
    }

    if (owned) {
        cJSON_Delete(v);
    }

    if (vowned) {
        cJSON_Delete(pv);
    }

    return rc;
}

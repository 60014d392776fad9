
/*
 * Copyright (C) ngx_sfn authors
 *
 * The WARNING diagnostics of ValidateStateMachineDefinition: what is
 * valid but most likely not what was meant.  AWS's codes:
 *
 *   NO_DOLLAR              a payload template field whose value looks like
 *                          a JSONPath or an intrinsic function, but whose
 *                          name does not end in ".$": it is taken as text
 *   NO_PATH                a Choice comparison against a value that looks
 *                          like a path, with an operator not ending in
 *                          "Path": it compares with the text
 *   PASS_RESULT_IS_STATIC  a Pass state's Result holding what looks like a
 *                          path: Result is never evaluated
 *
 * States in JSONata (QueryLanguage) have no paths to mistake.
 */


#include <stdio.h>
#include <string.h>

#include "sfn_core.h"


typedef struct {
    sfn_diag_t       *diag;
    size_t            max;
    size_t            n;
    int               jsonata;  /* the machine's QueryLanguage */
} sfn_lint_t;


static void sfn_lint_states(sfn_lint_t *l, const cJSON *states,
    const char *base);


/* "$", "$.x", "$[0]", "$$.Execution.Id", "States.Format(...)" */

static int
sfn_lint_pathlike(const cJSON *v)
{
    const char  *s;

    if (!cJSON_IsString(v)) {
        return 0;
    }

    s = v->valuestring;

    if (s[0] == '$') {
        return s[1] == '\0' || s[1] == '.' || s[1] == '['
               || (s[1] == '$' && (s[2] == '\0' || s[2] == '.'));
    }

    return strncmp(s, "States.", 7) == 0 && strchr(s, '(') != NULL
           && s[strlen(s) - 1] == ')';
}


static void
sfn_lint_add(sfn_lint_t *l, const char *code, const char *location,
    const char *fmt, const char *name)
{
    sfn_diag_t  *d;

    l->n++;

    if (l->n > l->max) {
        return;
    }

    d = &l->diag[l->n - 1];
    memset(d, 0, sizeof(sfn_diag_t));

    snprintf(d->code, sizeof(d->code), "%s", code);
    snprintf(d->location, sizeof(d->location), "%s", location);
    snprintf(d->message, sizeof(d->message), fmt, name);
}


/* a template: fields named without ".$" whose value looks like a path */

static void
sfn_lint_template(sfn_lint_t *l, const cJSON *t, const char *base)
{
    size_t        n;
    char          loc[512];
    const cJSON  *c;

    if (!cJSON_IsObject(t) && !cJSON_IsArray(t)) {
        return;
    }

    for (c = t->child; c; c = c->next) {
        if (c->string) {
            snprintf(loc, sizeof(loc), "%s/%s", base, c->string);
            n = strlen(c->string);

            if (n >= 2 && strcmp(c->string + n - 2, ".$") == 0) {
                continue;
            }

        } else {
            snprintf(loc, sizeof(loc), "%s", base);
        }

        if (c->string && sfn_lint_pathlike(c)) {
            sfn_lint_add(l, "NO_DOLLAR", loc,
                         "The value of the field '%s' looks like a path "
                         "or an intrinsic function, but its name does not "
                         "end in '.$': it is used as a string",
                         c->string);
            continue;
        }

        sfn_lint_template(l, c, loc);
    }
}


static void
sfn_lint_result(sfn_lint_t *l, const cJSON *r, const char *base)
{
    char          loc[512];
    const cJSON  *c;

    if (sfn_lint_pathlike(r)) {
        sfn_lint_add(l, "PASS_RESULT_IS_STATIC", base,
                     "The value '%s' of a Pass state's Result looks like a "
                     "path, but Result is static: use Parameters to "
                     "select from the input", r->valuestring);
        return;
    }

    if (!cJSON_IsObject(r) && !cJSON_IsArray(r)) {
        return;
    }

    for (c = r->child; c; c = c->next) {
        if (c->string) {
            snprintf(loc, sizeof(loc), "%s/%s", base, c->string);

        } else {
            snprintf(loc, sizeof(loc), "%s", base);
        }

        sfn_lint_result(l, c, loc);
    }
}


/* Choice rules, nested in And, Or and Not */

static void
sfn_lint_rule(sfn_lint_t *l, const cJSON *rule, const char *base)
{
    size_t        n;
    char          loc[512];
    const cJSON  *c, *r;

    if (!cJSON_IsObject(rule)) {
        return;
    }

    for (c = rule->child; c; c = c->next) {
        snprintf(loc, sizeof(loc), "%s/%s", base, c->string);

        if (strcmp(c->string, "And") == 0 || strcmp(c->string, "Or") == 0) {
            n = 0;

            cJSON_ArrayForEach(r, c) {
                snprintf(loc, sizeof(loc), "%s/%s/%zu", base, c->string,
                         n++);
                sfn_lint_rule(l, r, loc);
            }

            continue;
        }

        if (strcmp(c->string, "Not") == 0) {
            sfn_lint_rule(l, c, loc);
            continue;
        }

        n = strlen(c->string);

        if (strcmp(c->string, "Variable") == 0
            || strcmp(c->string, "Next") == 0
            || strcmp(c->string, "Comment") == 0
            || strcmp(c->string, "Condition") == 0
            || strcmp(c->string, "Assign") == 0
            || (n > 4 && strcmp(c->string + n - 4, "Path") == 0))
        {
            continue;
        }

        if (cJSON_IsString(c) && c->valuestring[0] == '$'
            && sfn_lint_pathlike(c))
        {
            sfn_lint_add(l, "NO_PATH", loc,
                         "The value of the field '%s' looks like a path, "
                         "but the field's name does not end with 'Path': "
                         "it is compared with the string itself",
                         c->string);
        }
    }
}


static void
sfn_lint_state(sfn_lint_t *l, const cJSON *st, const char *base)
{
    char          loc[512];
    size_t        n;
    const cJSON  *v, *q, *c;
    const char   *type;

    if (!cJSON_IsObject(st)) {
        return;
    }

    q = cJSON_GetObjectItemCaseSensitive(st, "QueryLanguage");

    if (cJSON_IsString(q) ? strcmp(q->valuestring, "JSONata") == 0
                          : l->jsonata)
    {
        return;
    }

    v = cJSON_GetObjectItemCaseSensitive(st, "Type");
    type = cJSON_IsString(v) ? v->valuestring : "";

    if (strcmp(type, "Pass") == 0) {
        v = cJSON_GetObjectItemCaseSensitive(st, "Result");
        snprintf(loc, sizeof(loc), "%s/Result", base);
        sfn_lint_result(l, v, loc);
    }

    v = cJSON_GetObjectItemCaseSensitive(st, "Parameters");
    snprintf(loc, sizeof(loc), "%s/Parameters", base);
    sfn_lint_template(l, v, loc);

    v = cJSON_GetObjectItemCaseSensitive(st, "ResultSelector");
    snprintf(loc, sizeof(loc), "%s/ResultSelector", base);
    sfn_lint_template(l, v, loc);

    v = cJSON_GetObjectItemCaseSensitive(st, "ItemSelector");
    snprintf(loc, sizeof(loc), "%s/ItemSelector", base);
    sfn_lint_template(l, v, loc);

    if (strcmp(type, "Choice") == 0) {
        n = 0;

        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st,
                                                               "Choices"))
        {
            snprintf(loc, sizeof(loc), "%s/Choices/%zu", base, n++);
            sfn_lint_rule(l, c, loc);
        }
    }

    if (strcmp(type, "Parallel") == 0) {
        n = 0;

        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st,
                                                               "Branches"))
        {
            snprintf(loc, sizeof(loc), "%s/Branches/%zu/States", base, n++);
            sfn_lint_states(l, cJSON_GetObjectItemCaseSensitive(c, "States"),
                            loc);
        }
    }

    if (strcmp(type, "Map") == 0) {
        v = cJSON_GetObjectItemCaseSensitive(st, "ItemProcessor");
        snprintf(loc, sizeof(loc), "%s/ItemProcessor/States", base);

        if (v == NULL) {
            v = cJSON_GetObjectItemCaseSensitive(st, "Iterator");
            snprintf(loc, sizeof(loc), "%s/Iterator/States", base);
        }

        sfn_lint_states(l, cJSON_GetObjectItemCaseSensitive(v, "States"),
                        loc);
    }
}


static void
sfn_lint_states(sfn_lint_t *l, const cJSON *states, const char *base)
{
    char          loc[512];
    const cJSON  *st;

    if (!cJSON_IsObject(states)) {
        return;
    }

    for (st = states->child; st; st = st->next) {
        if (snprintf(loc, sizeof(loc), "%s/%s", base, st->string)
            >= (int) sizeof(loc))
        {
            /* nested too deep to name: AWS's own limit is far below */
            continue;
        }

        sfn_lint_state(l, st, loc);
    }
}


size_t
sfn_machine_lint(const char *json, size_t len, sfn_diag_t *diag, size_t max)
{
    cJSON        *root;
    const cJSON  *q;
    sfn_lint_t    l;

    root = sfn_json_parse(json, len);

    if (root == NULL) {
        return 0;
    }

    l.diag = diag;
    l.max = max;
    l.n = 0;

    q = cJSON_GetObjectItemCaseSensitive(root, "QueryLanguage");
    l.jsonata = cJSON_IsString(q) && strcmp(q->valuestring, "JSONata") == 0;

    sfn_lint_states(&l, cJSON_GetObjectItemCaseSensitive(root, "States"),
                    "/States");

    cJSON_Delete(root);

    return l.n;
}

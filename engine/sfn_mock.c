
/*
 * Copyright (C) ngx_sfn authors
 *
 * Mocked task results, as Step Functions Local has them: its mock
 * configuration (MockConfigFile.json) parsed and checked whole, the test
 * case an execution runs, and the response a mocked Task state gives at
 * each of its invocations.  Invocations are counted per state name over
 * the whole execution: retries, Map iterations and loops each take the
 * next one, as in Step Functions Local; a distributed Map's children are
 * executions of their own, which count with their parent.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"
#include "sfn_exec.h"


/* AWS's limits of SendTaskFailure's error and cause */
#define SFN_MOCK_ERROR_MAX  256
#define SFN_MOCK_CAUSE_MAX  32768

/* "999999999-999999999" at most: an invocation number fits 30 bits */
#define SFN_MOCK_DIGITS     9


/* one key of a mocked response: invocations first to last, inclusive */
typedef struct {
    const char           *key;
    uint32_t              first;
    uint32_t              last;
    char                 *ret;          /* Return as JSON text, or NULL */
    const char           *error;        /* Throw */
    const char           *cause;
} sfn_mock_resp_t;


typedef struct {
    const char           *name;
    sfn_mock_resp_t      *resps;        /* by first, contiguous from 0 */
    size_t                nresps;
} sfn_mock_set_t;


typedef struct {
    const char           *state;
    const sfn_mock_set_t *set;
} sfn_mock_entry_t;


struct sfn_mock_case_s {
    const char           *name;
    const char           *machine;
    sfn_mock_entry_t     *entries;      /* by state name */
    size_t                nentries;
};


typedef struct {
    const char           *name;
    sfn_mock_case_t      *cases;        /* by name */
    size_t                ncases;
} sfn_mock_machine_t;


struct sfn_mock_s {
    sfn_pool_t            pool;
    cJSON                *root;         /* the names point into it */
    sfn_mock_machine_t   *machines;     /* by name */
    size_t                nmachines;
    sfn_mock_set_t       *sets;         /* by name */
    size_t                nsets;
};


typedef struct {
    sfn_mock_t           *mk;
    char                 *err;
    size_t                size;
} sfn_mock_ld_t;


static int
sfn_mock_fail(sfn_mock_ld_t *ld, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(ld->err, ld->size, fmt, ap);
    va_end(ap);

    return SFN_ERROR;
}


/*
 * A name as it appears in messages: JSON-quoted, so that control
 * characters and U+0000 (C0 80 here) read as escapes; at most 96 bytes
 */
static void
sfn_mock_quote(const char *s, char *buf, size_t size)
{
    char       *p;
    sfn_buf_t   b;

    memset(&b, 0, sizeof(sfn_buf_t));
    sfn_buf_json_string(&b, s, strlen(s));
    p = sfn_buf_detach(&b);

    if (p == NULL) {
        snprintf(buf, size, "\"?\"");
        return;
    }

    if (strlen(p) < size) {
        memcpy(buf, p, strlen(p) + 1);

    } else {
        snprintf(buf, size, "%.*s...\"", (int) (size - 6), p);
    }

    free(p);
}


#define SFN_Q  100


/* a member name of the file's: no U+0000, not empty when it names */
static int
sfn_mock_name_ok(sfn_mock_ld_t *ld, const char *what, const char *s)
{
    char  q[SFN_Q];

    if (*s == '\0') {
        return sfn_mock_fail(ld, "%s has an empty name", what);
    }

    if (!sfn_utf8_valid(s, strlen(s))) {
        /* the parser took the file as UTF-8: this is an escaped NUL */
        sfn_mock_quote(s, q, sizeof(q));
        return sfn_mock_fail(ld, "%s %s contains U+0000", what, q);
    }

    return SFN_OK;
}


static int
sfn_mock_cmp_member(const void *a, const void *b)
{
    return strcmp((*(const cJSON * const *) a)->string,
                  (*(const cJSON * const *) b)->string);
}


/*
 * Object members sorted by name into an array of n items of size bytes,
 * whose first field is the name, and *vals their values in the same
 * order; a name given twice is refused
 */
static void *
sfn_mock_members(sfn_mock_ld_t *ld, const cJSON *o, size_t size, size_t *n,
    const cJSON ***vals, const char *what)
{
    char          *items, q[SFN_Q];
    size_t         i, k;
    const cJSON   *v, **nodes;

    k = 0;
    cJSON_ArrayForEach(v, o) {
        k++;
    }

    *n = k;

    items = sfn_pcalloc(&ld->mk->pool, (k ? k : 1) * size);
    nodes = sfn_palloc(&ld->mk->pool, (k ? k : 1) * sizeof(const cJSON *));

    if (items == NULL || nodes == NULL) {
        sfn_mock_fail(ld, "out of memory");
        return NULL;
    }

    i = 0;
    cJSON_ArrayForEach(v, o) {
        nodes[i++] = v;
    }

    qsort(nodes, k, sizeof(const cJSON *), sfn_mock_cmp_member);

    for (i = 0; i < k; i++) {
        if (i > 0 && strcmp(nodes[i]->string, nodes[i - 1]->string) == 0) {
            sfn_mock_quote(nodes[i]->string, q, sizeof(q));
            sfn_mock_fail(ld, "%s %s is given twice", what, q);
            return NULL;
        }

        *(const char **) (items + i * size) = nodes[i]->string;
    }

    *vals = nodes;

    return items;
}


static const void *
sfn_mock_find(const void *items, size_t n, size_t size, const char *name)
{
    int          c;
    size_t       lo, hi, mid;
    const char  *p;

    lo = 0;
    hi = n;

    while (lo < hi) {
        mid = (lo + hi) / 2;
        p = (const char *) items + mid * size;
        c = strcmp(name, *(const char * const *) p);

        if (c == 0) {
            return p;
        }

        if (c < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


/* only the fields named, each at most once (the parser keeps duplicates) */
static int
sfn_mock_fields(sfn_mock_ld_t *ld, const cJSON *o, const char *what,
    const char *const *fields, size_t n)
{
    char          q[SFN_Q];
    size_t        i, seen;
    const cJSON  *v;

    seen = 0;

    cJSON_ArrayForEach(v, o) {
        for (i = 0; i < n; i++) {
            if (strcmp(v->string, fields[i]) == 0) {
                break;
            }
        }

        sfn_mock_quote(v->string, q, sizeof(q));

        if (i == n) {
            return sfn_mock_fail(ld, "%s has an unknown field %s", what, q);
        }

        if (seen & (1u << i)) {
            return sfn_mock_fail(ld, "%s has the field %s twice", what, q);
        }

        seen |= 1u << i;
    }

    return SFN_OK;
}


/* "3" or "1-2": digits only, first <= last */
static int
sfn_mock_range(const char *s, uint32_t *first, uint32_t *last)
{
    size_t    i, n;
    uint32_t  v[2];

    for (i = 0; i < 2; i++) {
        v[i] = 0;

        for (n = 0; *s >= '0' && *s <= '9'; n++, s++) {
            if (n == SFN_MOCK_DIGITS) {
                return SFN_ERROR;
            }
            v[i] = v[i] * 10 + (*s - '0');
        }

        if (n == 0) {
            return SFN_ERROR;
        }

        if (*s == '\0') {
            *first = v[0];
            *last = v[i];
            return v[0] <= v[i] ? SFN_OK : SFN_ERROR;
        }

        if (*s++ != '-' || i == 1) {
            return SFN_ERROR;
        }
    }

    return SFN_ERROR;
}


static int
sfn_mock_cmp_resp(const void *a, const void *b)
{
    const sfn_mock_resp_t  *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}


static const char *const  sfn_mock_resp_fields[] = { "Return", "Throw" };
static const char *const  sfn_mock_throw_fields[] = { "Error", "Cause" };


static int
sfn_mock_resp(sfn_mock_ld_t *ld, const char *set, sfn_mock_resp_t *r,
    const cJSON *o)
{
    char          where[2 * SFN_Q + 64], q[SFN_Q];
    const cJSON  *ret, *thr, *er, *ca;

    sfn_mock_quote(r->key, q, sizeof(q));
    snprintf(where, sizeof(where), "MockedResponses.%s.%s", set, q);

    if (sfn_mock_range(r->key, &r->first, &r->last) != SFN_OK) {
        return sfn_mock_fail(ld, "%s: an invocation is a number (\"0\") or "
                             "a range (\"1-2\", the first no greater than "
                             "the last), of at most %d digits each",
                             where, SFN_MOCK_DIGITS);
    }

    if (!cJSON_IsObject(o)
        || sfn_mock_fields(ld, o, where, sfn_mock_resp_fields, 2) != SFN_OK)
    {
        if (!cJSON_IsObject(o)) {
            sfn_mock_fail(ld, "%s is not an object", where);
        }
        return SFN_ERROR;
    }

    ret = cJSON_GetObjectItemCaseSensitive(o, "Return");
    thr = cJSON_GetObjectItemCaseSensitive(o, "Throw");

    if ((ret == NULL) == (thr == NULL)) {
        return sfn_mock_fail(ld, "%s must have either \"Return\" or "
                             "\"Throw\"", where);
    }

    if (ret) {
        r->ret = sfn_json_print(ret);
        if (r->ret == NULL) {
            return sfn_mock_fail(ld, "out of memory");
        }

        if (strlen(r->ret) > SFN_MAX_PAYLOAD) {
            return sfn_mock_fail(ld, "%s: \"Return\" is longer than a task "
                                 "result may be (%d bytes)", where,
                                 SFN_MAX_PAYLOAD);
        }

        return SFN_OK;
    }

    if (!cJSON_IsObject(thr)
        || sfn_mock_fields(ld, thr, where, sfn_mock_throw_fields, 2)
           != SFN_OK)
    {
        if (!cJSON_IsObject(thr)) {
            sfn_mock_fail(ld, "%s: \"Throw\" is not an object", where);
        }
        return SFN_ERROR;
    }

    er = cJSON_GetObjectItemCaseSensitive(thr, "Error");
    ca = cJSON_GetObjectItemCaseSensitive(thr, "Cause");

    if (!cJSON_IsString(er) || !cJSON_IsString(ca)) {
        return sfn_mock_fail(ld, "%s: \"Throw\" needs \"Error\" and "
                             "\"Cause\", both strings", where);
    }

    if (er->valuestring[0] == '\0'
        || strlen(er->valuestring) > SFN_MOCK_ERROR_MAX
        || !sfn_utf8_valid(er->valuestring, strlen(er->valuestring)))
    {
        return sfn_mock_fail(ld, "%s: \"Error\" must be 1 to %d characters "
                             "without U+0000", where, SFN_MOCK_ERROR_MAX);
    }

    if (strlen(ca->valuestring) > SFN_MOCK_CAUSE_MAX) {
        return sfn_mock_fail(ld, "%s: \"Cause\" is longer than %d bytes",
                             where, SFN_MOCK_CAUSE_MAX);
    }

    r->error = er->valuestring;
    r->cause = ca->valuestring;

    return SFN_OK;
}


static int
sfn_mock_set(sfn_mock_ld_t *ld, sfn_mock_set_t *set, const cJSON *o)
{
    char           q[SFN_Q], q1[SFN_Q];
    size_t         i;
    uint32_t       next;
    const cJSON  **vals;

    sfn_mock_quote(set->name, q, sizeof(q));

    if (sfn_mock_name_ok(ld, "mocked response", set->name) != SFN_OK) {
        return SFN_ERROR;
    }

    if (!cJSON_IsObject(o) || o->child == NULL) {
        return sfn_mock_fail(ld, "MockedResponses.%s must be an object of "
                             "responses by invocation (\"0\", \"1-2\", ...)",
                             q);
    }

    set->resps = sfn_mock_members(ld, o, sizeof(sfn_mock_resp_t),
                                  &set->nresps, &vals, "invocation");
    if (set->resps == NULL) {
        return SFN_ERROR;
    }

    for (i = 0; i < set->nresps; i++) {
        if (sfn_mock_resp(ld, q, &set->resps[i], vals[i]) != SFN_OK) {
            return SFN_ERROR;
        }
    }

    qsort(set->resps, set->nresps, sizeof(sfn_mock_resp_t),
          sfn_mock_cmp_resp);

    /* every invocation from 0 has one response: no gap, no overlap */

    next = 0;

    for (i = 0; i < set->nresps; i++) {
        if (set->resps[i].first != next) {
            sfn_mock_quote(set->resps[i].key, q1, sizeof(q1));
            return sfn_mock_fail(ld, "MockedResponses.%s: %s %s, where "
                                 "invocation %u was expected: invocations "
                                 "are numbered from 0 without gaps or "
                                 "overlaps", q, q1,
                                 set->resps[i].first < next ? "overlaps"
                                                            : "leaves a gap",
                                 next);
        }

        next = set->resps[i].last + 1;
    }

    return SFN_OK;
}


static const char *const  sfn_mock_top_fields[] = {
    "StateMachines", "MockedResponses"
};
static const char *const  sfn_mock_sm_fields[] = { "TestCases" };


static int
sfn_mock_case_load(sfn_mock_ld_t *ld, sfn_mock_case_t *c, const cJSON *o)
{
    char               qm[SFN_Q], qc[SFN_Q], qs[SFN_Q], qr[SFN_Q];
    size_t             i;
    const cJSON       *v, **vals;
    sfn_mock_entry_t  *en;

    sfn_mock_quote(c->machine, qm, sizeof(qm));
    sfn_mock_quote(c->name, qc, sizeof(qc));

    if (sfn_mock_name_ok(ld, "test case", c->name) != SFN_OK) {
        return SFN_ERROR;
    }

    /* StartExecution names it after the first '#' of the ARN */

    if (strchr(c->name, '#')) {
        return sfn_mock_fail(ld, "test case %s of state machine %s: a test "
                             "case name cannot contain '#'", qc, qm);
    }

    if (!cJSON_IsObject(o)) {
        return sfn_mock_fail(ld, "test case %s of state machine %s is not an "
                             "object of state names to mocked responses",
                             qc, qm);
    }

    c->entries = sfn_mock_members(ld, o, sizeof(sfn_mock_entry_t),
                                  &c->nentries, &vals, "state");
    if (c->entries == NULL) {
        return SFN_ERROR;
    }

    for (i = 0; i < c->nentries; i++) {
        en = &c->entries[i];
        v = vals[i];

        if (sfn_mock_name_ok(ld, "state", en->state) != SFN_OK) {
            return SFN_ERROR;
        }

        sfn_mock_quote(en->state, qs, sizeof(qs));

        if (!cJSON_IsString(v)) {
            return sfn_mock_fail(ld, "test case %s of state machine %s: "
                                 "state %s must name a mocked response",
                                 qc, qm, qs);
        }

        en->set = sfn_mock_find(ld->mk->sets, ld->mk->nsets,
                                sizeof(sfn_mock_set_t), v->valuestring);

        if (en->set == NULL) {
            sfn_mock_quote(v->valuestring, qr, sizeof(qr));
            return sfn_mock_fail(ld, "test case %s of state machine %s: "
                                 "state %s names the mocked response %s, "
                                 "which MockedResponses does not have",
                                 qc, qm, qs, qr);
        }
    }

    return SFN_OK;
}


static int
sfn_mock_machine(sfn_mock_ld_t *ld, sfn_mock_machine_t *sm, const cJSON *o)
{
    char           q[SFN_Q], where[SFN_Q + 32];
    size_t         i;
    const cJSON   *tc, **vals;

    if (sfn_mock_name_ok(ld, "state machine", sm->name) != SFN_OK) {
        return SFN_ERROR;
    }

    sfn_mock_quote(sm->name, q, sizeof(q));
    snprintf(where, sizeof(where), "StateMachines.%s", q);

    if (!cJSON_IsObject(o)) {
        return sfn_mock_fail(ld, "%s is not an object", where);
    }

    if (sfn_mock_fields(ld, o, where, sfn_mock_sm_fields, 1) != SFN_OK) {
        return SFN_ERROR;
    }

    tc = cJSON_GetObjectItemCaseSensitive(o, "TestCases");

    if (!cJSON_IsObject(tc)) {
        return sfn_mock_fail(ld, "%s needs \"TestCases\", an object of test "
                             "cases by name", where);
    }

    sm->cases = sfn_mock_members(ld, tc, sizeof(sfn_mock_case_t),
                                 &sm->ncases, &vals, "test case");
    if (sm->cases == NULL) {
        return SFN_ERROR;
    }

    for (i = 0; i < sm->ncases; i++) {
        sm->cases[i].machine = sm->name;
        if (sfn_mock_case_load(ld, &sm->cases[i], vals[i]) != SFN_OK) {
            return SFN_ERROR;
        }
    }

    return SFN_OK;
}


/* where strict parsing stopped, by cJSON's more lenient parser */
static void
sfn_mock_syntax(sfn_mock_ld_t *ld, const char *json, size_t len)
{
    size_t       line, col;
    cJSON       *v;
    const char  *end, *p;

    end = NULL;
    v = cJSON_ParseWithLengthOpts(json, len, &end, 0);

    if (v || end == NULL || end < json || end > json + len) {
        cJSON_Delete(v);
        sfn_mock_fail(ld, "the file is not strict JSON: text after the "
                      "value, or a string that is not UTF-8 or holds a raw "
                      "control character");
        return;
    }

    line = 1;
    col = 1;

    for (p = json; p < end; p++) {
        if (*p == '\n') {
            line++;
            col = 1;

        } else {
            col++;
        }
    }

    sfn_mock_fail(ld, "the file is not JSON: a syntax error at line %zu, "
                  "column %zu", line, col);
}


sfn_mock_t *
sfn_mock_load(const char *json, size_t len, char *err, size_t size)
{
    size_t          i;
    sfn_mock_t     *mk;
    const cJSON    *sms, *mrs, **vals;
    sfn_mock_ld_t   ld;

    mk = calloc(1, sizeof(sfn_mock_t));
    if (mk == NULL) {
        snprintf(err, size, "out of memory");
        return NULL;
    }

    ld.mk = mk;
    ld.err = err;
    ld.size = size;

    mk->root = sfn_json_parse(json, len);

    if (mk->root == NULL) {
        sfn_mock_syntax(&ld, json, len);
        goto failed;
    }

    if (!cJSON_IsObject(mk->root)) {
        sfn_mock_fail(&ld, "the file is not a JSON object");
        goto failed;
    }

    if (sfn_mock_fields(&ld, mk->root, "the file", sfn_mock_top_fields, 2)
        != SFN_OK)
    {
        goto failed;
    }

    sms = cJSON_GetObjectItemCaseSensitive(mk->root, "StateMachines");
    mrs = cJSON_GetObjectItemCaseSensitive(mk->root, "MockedResponses");

    if (!cJSON_IsObject(sms) || !cJSON_IsObject(mrs)) {
        sfn_mock_fail(&ld, "the file needs \"StateMachines\" and "
                      "\"MockedResponses\", both objects");
        goto failed;
    }

    /* the responses first: test cases refer to them */

    mk->sets = sfn_mock_members(&ld, mrs, sizeof(sfn_mock_set_t),
                                &mk->nsets, &vals, "mocked response");
    if (mk->sets == NULL) {
        goto failed;
    }

    for (i = 0; i < mk->nsets; i++) {
        if (sfn_mock_set(&ld, &mk->sets[i], vals[i]) != SFN_OK) {
            goto failed;
        }
    }

    mk->machines = sfn_mock_members(&ld, sms, sizeof(sfn_mock_machine_t),
                                    &mk->nmachines, &vals, "state machine");
    if (mk->machines == NULL) {
        goto failed;
    }

    for (i = 0; i < mk->nmachines; i++) {
        if (sfn_mock_machine(&ld, &mk->machines[i], vals[i]) != SFN_OK) {
            goto failed;
        }
    }

    return mk;

failed:

    sfn_mock_free(mk);

    return NULL;
}


void
sfn_mock_free(sfn_mock_t *mk)
{
    size_t  i, k;

    if (mk == NULL) {
        return;
    }

    for (i = 0; mk->sets && i < mk->nsets; i++) {
        for (k = 0; mk->sets[i].resps && k < mk->sets[i].nresps; k++) {
            free(mk->sets[i].resps[k].ret);
        }
    }

    cJSON_Delete(mk->root);
    sfn_pool_destroy(&mk->pool);
    free(mk);
}


const sfn_mock_case_t *
sfn_mock_case(const sfn_mock_t *mk, const char *machine, const char *name,
    int *known)
{
    const sfn_mock_machine_t  *sm;

    sm = sfn_mock_find(mk->machines, mk->nmachines,
                       sizeof(sfn_mock_machine_t), machine);

    if (known) {
        *known = (sm != NULL);
    }

    if (sm == NULL) {
        return NULL;
    }

    return sfn_mock_find(sm->cases, sm->ncases, sizeof(sfn_mock_case_t),
                         name);
}


const char *
sfn_mock_case_name(const sfn_mock_case_t *c)
{
    return c->name;
}


int
sfn_mock_check(const sfn_mock_case_t *c, const sfn_machine_t *m, char *err,
    size_t size)
{
    char                q[3][SFN_Q];
    size_t              i;
    const sfn_state_t  *st;

    for (i = 0; i < c->nentries; i++) {
        st = sfn_graph_state(m->main, c->entries[i].state);

        if (st && st->type == SFN_ST_TASK) {
            continue;
        }

        sfn_mock_quote(c->name, q[0], SFN_Q);
        sfn_mock_quote(c->machine, q[1], SFN_Q);
        sfn_mock_quote(c->entries[i].state, q[2], SFN_Q);

        if (st == NULL) {
            snprintf(err, size, "test case %s of state machine %s mocks the "
                     "state %s, which the state machine does not have",
                     q[0], q[1], q[2]);

        } else {
            snprintf(err, size, "test case %s of state machine %s mocks the "
                     "state %s, a %s state: only Task states are mocked",
                     q[0], q[1], q[2], st->type_name);
        }

        return SFN_ERROR;
    }

    return SFN_OK;
}


int
sfn_mock_check_machine(const sfn_mock_t *mk, const char *machine,
    const sfn_machine_t *m, char *err, size_t size)
{
    size_t                     i;
    const sfn_mock_machine_t  *sm;

    sm = sfn_mock_find(mk->machines, mk->nmachines,
                       sizeof(sfn_mock_machine_t), machine);

    for (i = 0; sm && i < sm->ncases; i++) {
        if (sfn_mock_check(&sm->cases[i], m, err, size) != SFN_OK) {
            return SFN_ERROR;
        }
    }

    return SFN_OK;
}


/* an execution's mocked tasks */


static const sfn_mock_entry_t *
sfn_mock_entry(const sfn_exec_t *e, const char *state)
{
    const sfn_mock_case_t  *c;

    c = e->mock;

    if (c == NULL) {
        return NULL;
    }

    return sfn_mock_find(c->entries, c->nentries, sizeof(sfn_mock_entry_t),
                         state);
}


static unsigned *
sfn_mock_calls(sfn_exec_t *e)
{
    if (e->mock_calls == NULL && e->mock) {
        e->mock_calls = calloc(1, sizeof(sfn_mock_calls_t)
                                  + (e->mock->nentries ? e->mock->nentries
                                                       : 1)
                                    * sizeof(unsigned));
        if (e->mock_calls == NULL) {
            return NULL;
        }

        e->mock_calls->refs = 1;
    }

    return e->mock_calls ? e->mock_calls->n : NULL;
}


const sfn_mock_case_t *
sfn_exec_mock_case(const sfn_exec_t *e)
{
    return e->mock;
}


/*
 * A map run's child takes its parent's test case and counts with it:
 * the map run's children and the parent are one execution to the counts
 */
int
sfn_mock_share(sfn_exec_t *e, sfn_exec_t *parent)
{
    e->mock = parent->mock;

    if (e->mock == NULL) {
        return SFN_OK;
    }

    if (sfn_mock_calls(parent) == NULL) {
        return SFN_ERROR;
    }

    e->mock_calls = parent->mock_calls;
    e->mock_calls->refs++;

    return SFN_OK;
}


void
sfn_mock_release(sfn_exec_t *e)
{
    if (e->mock_calls && --e->mock_calls->refs == 0) {
        free(e->mock_calls);
    }

    e->mock_calls = NULL;
}


/*
 * The response of run's Task state for its next invocation.  Returns
 * SFN_DECLINED when the state is not mocked, SFN_OK with *resp, or
 * SFN_ERROR with run->err set: the mocked response has no answer for this
 * invocation, which fails the execution, as in Step Functions Local.
 */
int
sfn_mock_next(sfn_run_t *run, const void **resp)
{
    size_t                   i, k, lo, hi;
    unsigned                *calls, n;
    sfn_exec_t              *e;
    const sfn_mock_set_t    *set;
    const sfn_mock_entry_t  *en;

    e = run->e;
    en = sfn_mock_entry(e, run->state->name);

    if (en == NULL) {
        return SFN_DECLINED;
    }

    calls = sfn_mock_calls(e);
    if (calls == NULL) {
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return SFN_ERROR;
    }

    i = en - e->mock->entries;
    n = calls[i];

    if (n < UINT32_MAX) {
        calls[i] = n + 1;
    }

    set = en->set;

    /* the keys are contiguous from 0, by first: the last one not past n */

    lo = 0;
    hi = set->nresps;

    while (hi - lo > 1) {
        k = (lo + hi) / 2;

        if (set->resps[k].first <= n) {
            lo = k;

        } else {
            hi = k;
        }
    }

    if (n <= set->resps[lo].last) {
        *resp = &set->resps[lo];
        return SFN_OK;
    }

    sfn_runtime(run, "States.Runtime", "The mocked response '%s' of test "
                "case '%s' has no response for invocation %u of the state "
                "(it answers invocations 0 to %u).", set->name,
                e->mock->name, n, set->resps[set->nresps - 1].last);

    return SFN_ERROR;
}


/*
 * Answers task id with resp, from inside the engine's drain: the answer
 * is queued as the host's would be, and goes through the same Retry,
 * Catch, ResultSelector, ResultPath and events.
 */
void
sfn_mock_answer(sfn_exec_t *e, uint64_t id, const void *resp)
{
    const sfn_mock_resp_t  *r = resp;

    sfn_slot_t  *s;

    s = sfn_slot_find(e, id);

    if (s && s->run->state->activity) {
        (void) sfn_exec_task_started(e, id, NULL);
    }

    if (r->ret) {
        (void) sfn_exec_task_succeeded(e, id, r->ret, strlen(r->ret));

    } else {
        (void) sfn_exec_task_failed(e, id, r->error, r->cause);
    }
}


/* the invocations counted so far, by state name, for a snapshot */
cJSON *
sfn_mock_snapshot(const sfn_exec_t *e)
{
    size_t                  i;
    cJSON                  *o;
    const sfn_mock_case_t  *c;

    c = e->mock;

    if (c == NULL || e->mock_calls == NULL) {
        return NULL;
    }

    o = cJSON_CreateObject();

    for (i = 0; o && i < c->nentries; i++) {
        if (e->mock_calls->n[i]) {
            cJSON_AddNumberToObject(o, c->entries[i].state,
                                    e->mock_calls->n[i]);
        }
    }

    return o;
}


/*
 * ... and back; a state the test case no longer mocks (the configuration
 * changed between the two) is left out
 */
int
sfn_mock_restore(sfn_exec_t *e, const cJSON *o)
{
    unsigned                *calls;
    const cJSON             *v;
    const sfn_mock_entry_t  *en;

    if (o == NULL || e->mock == NULL) {
        return SFN_OK;
    }

    calls = sfn_mock_calls(e);
    if (calls == NULL) {
        return SFN_ERROR;
    }

    cJSON_ArrayForEach(v, o) {
        en = sfn_mock_entry(e, v->string);

        if (en && cJSON_IsNumber(v) && v->valuedouble >= 0
            && v->valuedouble <= UINT32_MAX)
        {
            calls[en - e->mock->entries] = (unsigned) v->valuedouble;
        }
    }

    return SFN_OK;
}


/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata values: constructors over the evaluation's arena, sequences,
 * objects that keep JavaScript's key order, equality and truthiness as
 * jsonata-js has them, conversion from and to cJSON, JavaScript's number
 * printing and JSON.stringify, UTF-8 code points, and the errors with
 * their message templates.
 */


#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_jsonata_int.h"


sfn_jv_t  sfn_jv_true = { SFN_JV_BOOL, 0, { .b = 1 } };
sfn_jv_t  sfn_jv_false = { SFN_JV_BOOL, 0, { .b = 0 } };
sfn_jv_t  sfn_jv_null = { SFN_JV_NULL, 0, { .b = 0 } };


void *
sfn_jalloc(sfn_jctx_t *ctx, size_t size)
{
    void  *p;

    ctx->memory += size;
    if (ctx->max_memory && ctx->memory > ctx->max_memory) {
        sfn_jthrow(ctx, "U1000");
    }

    /* a large block at once; small ones at the next tick */
    if (ctx->max_steps && size >= 1024) {
        sfn_jbudget(ctx);
    }

    p = sfn_palloc(ctx->pool, size);
    if (p == NULL) {
        sfn_jthrow(ctx, "U1000");
    }

    return p;
}


void
sfn_jlist_push(sfn_pool_t *pool, sfn_jlist_t *l, void *p)
{
    void   **v;
    size_t   cap;

    if (l->n == l->cap) {
        cap = l->cap ? l->cap * 2 : 4;
        v = sfn_palloc(pool, cap * sizeof(void *));
        if (v == NULL) {
            /* the caller sees an empty list */
            l->n = 0;
            return;
        }
        if (l->n) {
            memcpy(v, l->v, l->n * sizeof(void *));
        }
        l->v = v;
        l->cap = cap;
    }

    l->v[l->n++] = p;
}


sfn_jv_t *
sfn_jv_number(sfn_jctx_t *ctx, double n)
{
    sfn_jv_t  *v;

    v = sfn_jalloc(ctx, sizeof(sfn_jv_t));
    v->type = SFN_JV_NUMBER;
    v->flags = 0;
    v->u.n = n;

    return v;
}


sfn_jv_t *
sfn_jv_string(sfn_jctx_t *ctx, const char *s, size_t len)
{
    char      *p;
    sfn_jv_t  *v;

    v = sfn_jalloc(ctx, sizeof(sfn_jv_t) + len + 1);
    p = (char *) (v + 1);
    if (len) {
        memcpy(p, s, len);
    }
    p[len] = '\0';

    v->type = SFN_JV_STRING;
    v->flags = 0;
    v->u.s.data = p;
    v->u.s.len = len;

    return v;
}


sfn_jv_t *
sfn_jv_strz(sfn_jctx_t *ctx, const char *s)
{
    return sfn_jv_string(ctx, s, strlen(s));
}


sfn_jv_t *
sfn_jv_bool(int b)
{
    return b ? &sfn_jv_true : &sfn_jv_false;
}


sfn_jv_t *
sfn_jv_array(sfn_jctx_t *ctx, int flags)
{
    sfn_jv_t  *v;

    v = sfn_jalloc(ctx, sizeof(sfn_jv_t) + sizeof(sfn_jarr_t));
    v->type = SFN_JV_ARRAY;
    v->flags = flags;
    v->u.a = (sfn_jarr_t *) (v + 1);
    memset(v->u.a, 0, sizeof(sfn_jarr_t));

    return v;
}


sfn_jv_t *
sfn_jv_object(sfn_jctx_t *ctx)
{
    sfn_jv_t  *v;

    v = sfn_jalloc(ctx, sizeof(sfn_jv_t) + sizeof(sfn_jobj_t));
    v->type = SFN_JV_OBJECT;
    v->flags = 0;
    v->u.o = (sfn_jobj_t *) (v + 1);
    memset(v->u.o, 0, sizeof(sfn_jobj_t));

    return v;
}


sfn_jv_t *
sfn_jv_func(sfn_jctx_t *ctx, sfn_jfn_t *f)
{
    sfn_jv_t  *v;

    v = sfn_jalloc(ctx, sizeof(sfn_jv_t));
    v->type = SFN_JV_FUNCTION;
    v->flags = 0;
    v->u.f = f;

    return v;
}


void
sfn_jv_push(sfn_jctx_t *ctx, sfn_jv_t *a, sfn_jv_t *v)
{
    size_t       cap;
    sfn_jv_t   **nv;
    sfn_jarr_t  *arr;

    arr = a->u.a;

    if (arr->n == arr->cap) {
        cap = arr->cap ? arr->cap * 2 : 4;
        nv = sfn_jalloc(ctx, cap * sizeof(sfn_jv_t *));
        if (arr->n) {
            memcpy(nv, arr->v, arr->n * sizeof(sfn_jv_t *));
        }
        arr->v = nv;
        arr->cap = cap;
    }

    arr->v[arr->n++] = v;
}


/* JavaScript lists the keys that are array indexes first, ascending */

static int
sfn_jv_index_key(const char *k, size_t len, uint64_t *out)
{
    size_t    i;
    uint64_t  v;

    if (len == 0 || len > 10 || (k[0] == '0' && len > 1)) {
        return 0;
    }

    v = 0;
    for (i = 0; i < len; i++) {
        if (k[i] < '0' || k[i] > '9') {
            return 0;
        }
        v = v * 10 + (k[i] - '0');
    }

    if (v >= 4294967295ULL) {
        return 0;
    }

    *out = v;
    return 1;
}


static long
sfn_jv_find(const sfn_jobj_t *o, const char *k, size_t len)
{
    size_t  i;

    for (i = 0; i < o->n; i++) {
        if (o->k[i].len == len
            && (len == 0 || memcmp(o->k[i].data, k, len) == 0))
        {
            return (long) i;
        }
    }

    return -1;
}


sfn_jv_t *
sfn_jv_get(const sfn_jv_t *o, const char *k, size_t len)
{
    long  i;

    if (o == NULL || o->type != SFN_JV_OBJECT) {
        return NULL;
    }

    i = sfn_jv_find(o->u.o, k, len);

    return i < 0 ? NULL : o->u.o->v[i];
}


void
sfn_jv_set(sfn_jctx_t *ctx, sfn_jv_t *ov, const char *k, size_t len,
    sfn_jv_t *v)
{
    long         i;
    size_t       at, cap;
    uint64_t     idx, other;
    sfn_str_t   *nk;
    sfn_jv_t   **nv;
    sfn_jobj_t  *o;

    o = ov->u.o;
    i = sfn_jv_find(o, k, len);

    if (i >= 0) {
        o->v[i] = v;
        return;
    }

    if (o->n == o->cap) {
        cap = o->cap ? o->cap * 2 : 4;
        nk = sfn_jalloc(ctx, cap * sizeof(sfn_str_t));
        nv = sfn_jalloc(ctx, cap * sizeof(sfn_jv_t *));
        if (o->n) {
            memcpy(nk, o->k, o->n * sizeof(sfn_str_t));
            memcpy(nv, o->v, o->n * sizeof(sfn_jv_t *));
        }
        o->k = nk;
        o->v = nv;
        o->cap = cap;
    }

    at = o->n;

    if (sfn_jv_index_key(k, len, &idx)) {
        for (at = 0; at < o->n; at++) {
            if (!sfn_jv_index_key(o->k[at].data, o->k[at].len, &other)
                || other > idx)
            {
                break;
            }
        }
        memmove(&o->k[at + 1], &o->k[at], (o->n - at) * sizeof(sfn_str_t));
        memmove(&o->v[at + 1], &o->v[at], (o->n - at) * sizeof(sfn_jv_t *));
    }

    o->k[at].data = sfn_jalloc(ctx, len + 1);
    memcpy((char *) o->k[at].data, k, len);
    ((char *) o->k[at].data)[len] = '\0';
    o->k[at].len = len;
    o->v[at] = v;
    o->n++;
}


void
sfn_jv_del(sfn_jv_t *ov, const char *k, size_t len)
{
    long         i;
    sfn_jobj_t  *o;

    o = ov->u.o;
    i = sfn_jv_find(o, k, len);
    if (i < 0) {
        return;
    }

    memmove(&o->k[i], &o->k[i + 1], (o->n - i - 1) * sizeof(sfn_str_t));
    memmove(&o->v[i], &o->v[i + 1], (o->n - i - 1) * sizeof(sfn_jv_t *));
    o->n--;
}


sfn_jv_t *
sfn_jv_seq1(sfn_jctx_t *ctx, sfn_jv_t *v)
{
    sfn_jv_t  *s;

    s = sfn_jv_array(ctx, SFN_JV_SEQ);
    sfn_jv_push(ctx, s, v);

    return s;
}


/* fn.append: concat as a new array (a sequence when arg1 was not one) */

sfn_jv_t *
sfn_jv_append(sfn_jctx_t *ctx, sfn_jv_t *a, sfn_jv_t *b)
{
    size_t     i;
    sfn_jv_t  *r;

    if (a == NULL) {
        return b;
    }

    if (b == NULL) {
        return a;
    }

    /* Array.prototype.concat: a plain array whatever arg1 was */
    r = sfn_jv_array(ctx, 0);

    if (a->type == SFN_JV_ARRAY) {
        for (i = 0; i < a->u.a->n; i++) {
            sfn_jv_push(ctx, r, a->u.a->v[i]);
        }

    } else {
        sfn_jv_push(ctx, r, a);
    }

    if (b->type == SFN_JV_ARRAY) {
        for (i = 0; i < b->u.a->n; i++) {
            sfn_jv_push(ctx, r, b->u.a->v[i]);
        }

    } else {
        sfn_jv_push(ctx, r, b);
    }

    return r;
}


int
sfn_jv_is_array(const sfn_jv_t *v)
{
    return v != NULL && v->type == SFN_JV_ARRAY;
}


int
sfn_jv_is_seq(const sfn_jv_t *v)
{
    return v != NULL && v->type == SFN_JV_ARRAY && (v->flags & SFN_JV_SEQ);
}


int
sfn_jv_is_func(const sfn_jv_t *v)
{
    return v != NULL && v->type == SFN_JV_FUNCTION;
}


int
sfn_jv_is_numeric(sfn_jctx_t *ctx, const sfn_jv_t *v)
{
    if (v == NULL || v->type != SFN_JV_NUMBER || isnan(v->u.n)) {
        return 0;
    }

    if (isinf(v->u.n)) {
        sfn_jthrow_v(ctx, "D1001", (sfn_jv_t *) v);
    }

    return 1;
}


int
sfn_jv_deep_equal(const sfn_jv_t *a, const sfn_jv_t *b)
{
    size_t  i;
    long    j;

    if (a == b) {
        return 1;
    }

    if (a == NULL || b == NULL) {
        return 0;
    }

    if (a->type != b->type) {
        return 0;
    }

    switch (a->type) {
    case SFN_JV_NULL:
        return 1;
    case SFN_JV_BOOL:
        return a->u.b == b->u.b;
    case SFN_JV_NUMBER:
        return a->u.n == b->u.n;
    case SFN_JV_STRING:
        return a->u.s.len == b->u.s.len
               && memcmp(a->u.s.data, b->u.s.data, a->u.s.len) == 0;
    case SFN_JV_ARRAY:
        if (a->u.a->n != b->u.a->n) {
            return 0;
        }
        for (i = 0; i < a->u.a->n; i++) {
            if (!sfn_jv_deep_equal(a->u.a->v[i], b->u.a->v[i])) {
                return 0;
            }
        }
        return 1;
    case SFN_JV_OBJECT:
        if (a->u.o->n != b->u.o->n) {
            return 0;
        }
        for (i = 0; i < a->u.o->n; i++) {
            j = sfn_jv_find(b->u.o, a->u.o->k[i].data, a->u.o->k[i].len);
            if (j < 0 || !sfn_jv_deep_equal(a->u.o->v[i], b->u.o->v[j])) {
                return 0;
            }
        }
        return 1;
    default:
        return a->u.f == b->u.f;
    }
}


int
sfn_jv_boolean(sfn_jctx_t *ctx, const sfn_jv_t *v)
{
    size_t  i;

    if (v == NULL) {
        return -1;
    }

    switch (v->type) {
    case SFN_JV_ARRAY:
        if (v->u.a->n == 1) {
            return sfn_jv_boolean(ctx, v->u.a->v[0]) == 1;
        }
        for (i = 0; i < v->u.a->n; i++) {
            if (sfn_jv_boolean(ctx, v->u.a->v[i]) == 1) {
                return 1;
            }
        }
        return 0;
    case SFN_JV_STRING:
        return v->u.s.len > 0;
    case SFN_JV_NUMBER:
        return sfn_jv_is_numeric(ctx, v) && v->u.n != 0;
    case SFN_JV_OBJECT:
        return v->u.o->n > 0;
    case SFN_JV_BOOL:
        return v->u.b;
    case SFN_JV_FUNCTION:
        return v->u.f->kind != SFN_JF_REGEX;
    default:
        return 0;
    }
}


/*
 * ref: the strings and keys stay in the tree, which outlives the
 * evaluation.  An array or an object is one allocation: the value, its
 * lists, and the numbers and strings among its members.  lent: where j
 * stands in the host's lend tree (sfn_jarr_t).
 */
static sfn_jv_t *sfn_jv_json_items(sfn_jctx_t *ctx, const cJSON *j,
    int ref, unsigned lent);


static sfn_jv_t *
sfn_jv_json(sfn_jctx_t *ctx, const cJSON *j, int ref, unsigned lent)
{
    sfn_jv_t  *v;

    switch (j->type & 0xff) {
    case cJSON_False:
        return &sfn_jv_false;
    case cJSON_True:
        return &sfn_jv_true;
    case cJSON_Number:
        return sfn_jv_number(ctx, j->valuedouble);
    case cJSON_String:
        if (!ref || j->valuestring == NULL) {
            return sfn_jv_strz(ctx, j->valuestring ? j->valuestring : "");
        }
        v = sfn_jalloc(ctx, sizeof(sfn_jv_t));
        v->type = SFN_JV_STRING;
        v->flags = 0;
        v->u.s.data = j->valuestring;
        v->u.s.len = strlen(j->valuestring);
        return v;
    case cJSON_Array:
    case cJSON_Object:
        return sfn_jv_json_items(ctx, j, ref, lent);
    default:
        return &sfn_jv_null;
    }
}


/* a member in its slot when it is a number or a borrowed string */
static sfn_jv_t *
sfn_jv_json_member(sfn_jctx_t *ctx, const cJSON *c, int ref, unsigned lent,
    sfn_jv_t *slot)
{
    switch (c->type & 0xff) {
    case cJSON_Number:
        slot->type = SFN_JV_NUMBER;
        slot->flags = 0;
        slot->u.n = c->valuedouble;
        return slot;
    case cJSON_String:
        if (ref && c->valuestring != NULL) {
            slot->type = SFN_JV_STRING;
            slot->flags = 0;
            slot->u.s.data = c->valuestring;
            slot->u.s.len = strlen(c->valuestring);
            return slot;
        }
        break;
    }

    return sfn_jv_json(ctx, c, ref, lent);
}


/*
 * What j's members are to the host's lend tree: its own nodes once j is
 * the tree's root (or a reference to it), nodes it refers to below its
 * own reference nodes, or neither.
 */
static unsigned
sfn_jv_json_lent(sfn_jctx_t *ctx, const cJSON *j, int ref, unsigned lent)
{
    const cJSON  *lend;

    if (lent == SFN_JSONATA_LENT_OWN) {
        return (j->type & cJSON_IsReference) ? SFN_JSONATA_LENT_HELD : lent;
    }

    if (lent || !ref || ctx->host == NULL) {
        return lent;
    }

    lend = ctx->host->lend;

    if (lend == NULL || lend->child == NULL || j->child != lend->child) {
        return 0;
    }

    return (lend->type & cJSON_IsReference) ? SFN_JSONATA_LENT_HELD
                                            : SFN_JSONATA_LENT_OWN;
}


/*
 * An object's keys as they are when none is an array index, which
 * JavaScript lists first, and none repeats, which JSON.parse() keeps once:
 * otherwise sfn_jv_set() orders them.
 */
static int
sfn_jv_json_keys(const cJSON *j, sfn_str_t *keys, size_t n)
{
    size_t        i, k;
    uint64_t      idx;
    const char   *key;
    const cJSON  *c;

    for (c = j->child, i = 0; c; c = c->next, i++) {
        key = c->string ? c->string : "";
        keys[i].data = key;
        keys[i].len = strlen(key);

        if (key[0] >= '0' && key[0] <= '9'
            && sfn_jv_index_key(key, keys[i].len, &idx))
        {
            return 0;
        }

        if (n > 64) {
            continue;
        }

        for (k = 0; k < i; k++) {
            if (keys[k].len == keys[i].len && keys[k].data[0] == key[0]
                && memcmp(keys[k].data, key, keys[i].len) == 0)
            {
                return 0;
            }
        }
    }

    /* a large object is checked for repeats with sfn_jv_set() */
    return n <= 64;
}


static sfn_jv_t *
sfn_jv_json_items(sfn_jctx_t *ctx, const cJSON *j, int ref, unsigned lent)
{
    char          *p, *k;
    size_t         n, i, size;
    sfn_jv_t      *v, **vals, *slots;
    sfn_str_t     *keys;
    const cJSON   *c;

    n = 0;
    for (c = j->child; c; c = c->next) {
        n++;
    }

    lent = sfn_jv_json_lent(ctx, j, ref, lent);

    if ((j->type & 0xff) == cJSON_Array) {
        size = sizeof(sfn_jv_t) + sizeof(sfn_jarr_t)
               + n * (sizeof(sfn_jv_t *) + sizeof(sfn_jv_t));
        p = sfn_jalloc(ctx, size);

        v = (sfn_jv_t *) p;
        v->type = SFN_JV_ARRAY;
        v->flags = 0;
        v->u.a = (sfn_jarr_t *) (p + sizeof(sfn_jv_t));
        vals = (sfn_jv_t **) (p + sizeof(sfn_jv_t) + sizeof(sfn_jarr_t));
        slots = (sfn_jv_t *) (vals + n);

        v->u.a->v = vals;
        v->u.a->n = n;
        v->u.a->cap = n;
        v->u.a->child = lent ? j->child : NULL;
        v->u.a->lent = lent;

        for (c = j->child, i = 0; c; c = c->next, i++) {
            vals[i] = sfn_jv_json_member(ctx, c, ref, lent, &slots[i]);
        }

        return v;
    }

    size = sizeof(sfn_jv_t) + sizeof(sfn_jobj_t)
           + n * (sizeof(sfn_str_t) + sizeof(sfn_jv_t *) + sizeof(sfn_jv_t));
    p = sfn_jalloc(ctx, size);

    v = (sfn_jv_t *) p;
    v->type = SFN_JV_OBJECT;
    v->flags = 0;
    v->u.o = (sfn_jobj_t *) (p + sizeof(sfn_jv_t));
    keys = (sfn_str_t *) (p + sizeof(sfn_jv_t) + sizeof(sfn_jobj_t));
    vals = (sfn_jv_t **) (keys + n);
    slots = (sfn_jv_t *) (vals + n);

    v->u.o->k = keys;
    v->u.o->v = vals;
    v->u.o->n = 0;
    v->u.o->cap = n;
    v->u.o->child = NULL;
    v->u.o->lent = 0;

    if (!sfn_jv_json_keys(j, keys, n)) {
        /* reordered or fewer: not the tree's list any more */
        for (c = j->child, i = 0; c; c = c->next, i++) {
            sfn_jv_set(ctx, v, c->string ? c->string : "",
                       c->string ? strlen(c->string) : 0,
                       sfn_jv_json_member(ctx, c, ref, lent, &slots[i]));
        }

        return v;
    }

    if (lent) {
        v->u.o->child = j->child;
        v->u.o->lent = lent;
    }

    for (c = j->child, i = 0; c; c = c->next, i++) {
        if (!ref) {
            k = sfn_jalloc(ctx, keys[i].len + 1);
            memcpy(k, keys[i].data, keys[i].len + 1);
            keys[i].data = k;
        }

        vals[i] = sfn_jv_json_member(ctx, c, ref, lent, &slots[i]);
    }

    v->u.o->n = n;

    return v;
}


sfn_jv_t *
sfn_jv_from_json(sfn_jctx_t *ctx, const cJSON *j)
{
    return j ? sfn_jv_json(ctx, j, 0, 0) : NULL;
}


sfn_jv_t *
sfn_jv_from_json_ref(sfn_jctx_t *ctx, const cJSON *j)
{
    return j ? sfn_jv_json(ctx, j, 1, 0) : NULL;
}


cJSON *
sfn_jv_to_json(const sfn_jv_t *v)
{
    size_t   i;
    cJSON   *j, *c;

    if (v == NULL) {
        return cJSON_CreateNull();
    }

    switch (v->type) {
    case SFN_JV_BOOL:
        return cJSON_CreateBool(v->u.b);
    case SFN_JV_NUMBER:
        if (isnan(v->u.n) || isinf(v->u.n)) {
            return cJSON_CreateNull();
        }
        return cJSON_CreateNumber(v->u.n);
    case SFN_JV_STRING:
        /* every string value is NUL-terminated */
        return cJSON_CreateString(v->u.s.data);
    case SFN_JV_ARRAY:
        j = cJSON_CreateArray();
        if (j == NULL) {
            return NULL;
        }
        for (i = 0; i < v->u.a->n; i++) {
            c = sfn_jv_to_json(v->u.a->v[i]);
            if (c == NULL) {
                cJSON_Delete(j);
                return NULL;
            }
            cJSON_AddItemToArray(j, c);
        }
        return j;
    case SFN_JV_OBJECT:
        j = cJSON_CreateObject();
        if (j == NULL) {
            return NULL;
        }
        for (i = 0; i < v->u.o->n; i++) {
            if (v->u.o->v[i] == NULL) {
                continue;
            }
            c = sfn_jv_to_json(v->u.o->v[i]);
            if (c == NULL) {
                cJSON_Delete(j);
                return NULL;
            }
            cJSON_AddItemToObject(j, v->u.o->k[i].data, c);
        }
        return j;
    case SFN_JV_FUNCTION:
        return cJSON_CreateString("");
    default:
        return cJSON_CreateNull();
    }
}


/* a node that refers to a lent list: see sfn_jarr_t */
static cJSON *
sfn_jv_refer(sfn_pool_t *pool, int type, const cJSON *child, unsigned how,
    unsigned *lent)
{
    cJSON  *j;

    j = sfn_json_pnode(pool, type | cJSON_IsReference);
    if (j == NULL) {
        return NULL;
    }

    j->child = (cJSON *) child;
    *lent |= how;

    return j;
}


/*
 * The same in an arena: nothing to free on failure but the arena.  The
 * arrays and objects read from the host's lend tree are referred to, not
 * copied; *lent collects what the tree refers to.
 */
cJSON *
sfn_jv_to_json_pool(const sfn_jv_t *v, sfn_pool_t *pool, unsigned *lent)
{
    size_t   i;
    cJSON   *j, *c;

    if (v == NULL) {
        return sfn_json_pnode(pool, cJSON_NULL);
    }

    switch (v->type) {
    case SFN_JV_BOOL:
        return sfn_json_pnode(pool, v->u.b ? cJSON_True : cJSON_False);
    case SFN_JV_NUMBER:
        if (isnan(v->u.n) || isinf(v->u.n)) {
            return sfn_json_pnode(pool, cJSON_NULL);
        }
        return sfn_json_pnumber(pool, v->u.n);
    case SFN_JV_STRING:
        return sfn_json_pstring(pool, v->u.s.data, v->u.s.len);
    case SFN_JV_ARRAY:
        if (v->u.a->lent) {
            return sfn_jv_refer(pool, cJSON_Array, v->u.a->child,
                                v->u.a->lent, lent);
        }
        j = sfn_json_pnode(pool, cJSON_Array);
        if (j == NULL) {
            return NULL;
        }
        for (i = 0; i < v->u.a->n; i++) {
            c = sfn_jv_to_json_pool(v->u.a->v[i], pool, lent);
            if (c == NULL || sfn_json_padd(pool, j, NULL, 0, c) != 0) {
                return NULL;
            }
        }
        return j;
    case SFN_JV_OBJECT:
        if (v->u.o->lent) {
            return sfn_jv_refer(pool, cJSON_Object, v->u.o->child,
                                v->u.o->lent, lent);
        }
        j = sfn_json_pnode(pool, cJSON_Object);
        if (j == NULL) {
            return NULL;
        }
        for (i = 0; i < v->u.o->n; i++) {
            if (v->u.o->v[i] == NULL) {
                continue;
            }
            c = sfn_jv_to_json_pool(v->u.o->v[i], pool, lent);
            if (c == NULL
                || sfn_json_padd(pool, j, v->u.o->k[i].data,
                                 v->u.o->k[i].len, c) != 0)
            {
                return NULL;
            }
        }
        return j;
    case SFN_JV_FUNCTION:
        return sfn_json_pstring(pool, "", 0);
    default:
        return sfn_json_pnode(pool, cJSON_NULL);
    }
}


/* Number.prototype.toString() */

size_t
sfn_js_number(double d, char *buf)
{
    int     p, e, k, n, i;
    char    tmp[40], digits[24], *q, *o;

    if (isnan(d)) {
        return (size_t) sprintf(buf, "NaN");
    }

    if (isinf(d)) {
        return (size_t) sprintf(buf, d < 0 ? "-Infinity" : "Infinity");
    }

    if (d == 0) {
        return (size_t) sprintf(buf, "0");
    }

    if (d == trunc(d) && fabs(d) < 1e15) {
        return (size_t) sprintf(buf, "%lld", (long long) d);
    }

    n = sfn_decimal_format(d, buf);
    if (n) {
        return n;
    }

    /* the shortest of 15..17 significant digits that reads back as d */
    for (p = 15; p <= 17; p++) {
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
        if (p == 17 || strtod(tmp, NULL) == d) {
            break;
        }
    }

    /* tmp: [-]d[.ddd]e[+-]xx */
    o = buf;
    q = tmp;
    if (*q == '-') {
        *o++ = '-';
        q++;
    }

    k = 0;
    for ( ; *q && *q != 'e'; q++) {
        if (*q != '.') {
            digits[k++] = *q;
        }
    }
    e = atoi(q + 1);

    while (k > 1 && digits[k - 1] == '0') {
        k--;
    }

    n = e + 1;

    if (k <= n && n <= 21) {
        memcpy(o, digits, k);
        o += k;
        for (i = 0; i < n - k; i++) {
            *o++ = '0';
        }

    } else if (0 < n && n <= 21) {
        memcpy(o, digits, n);
        o += n;
        *o++ = '.';
        memcpy(o, digits + n, k - n);
        o += k - n;

    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (i = 0; i < -n; i++) {
            *o++ = '0';
        }
        memcpy(o, digits, k);
        o += k;

    } else {
        *o++ = digits[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, k - 1);
            o += k - 1;
        }
        o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }

    *o = '\0';

    return o - buf;
}


static void
sfn_jv_indent(sfn_buf_t *b, int indent, int level)
{
    int  i;

    if (indent) {
        sfn_buf_addc(b, '\n');
        for (i = 0; i < indent * level; i++) {
            sfn_buf_addc(b, ' ');
        }
    }
}


static void
sfn_jv_stringify_level(sfn_jctx_t *ctx, sfn_buf_t *b, const sfn_jv_t *v,
    int indent, int full, int level)
{
    size_t  i, n;
    char    num[40];
    double  d;

    if (v == NULL) {
        sfn_buf_add(b, "null", 4);
        return;
    }

    switch (v->type) {
    case SFN_JV_NULL:
        sfn_buf_add(b, "null", 4);
        break;

    case SFN_JV_BOOL:
        sfn_buf_adds(b, v->u.b ? "true" : "false");
        break;

    case SFN_JV_NUMBER:
        d = v->u.n;
        if (isnan(d)) {
            sfn_buf_add(b, "null", 4);
            break;
        }
        if (isinf(d)) {
            if (!full) {
                sfn_jthrow_v(ctx, "D1001", (sfn_jv_t *) v);
            }
            sfn_buf_add(b, "null", 4);
            break;
        }
        if (!full && !(d == trunc(d) && fabs(d) < 1e15)) {
            snprintf(num, sizeof(num), "%.14e", d);
            d = strtod(num, NULL);
        }
        sfn_js_number(d, num);
        sfn_buf_adds(b, num);
        break;

    case SFN_JV_STRING:
        sfn_buf_json_string(b, v->u.s.data, v->u.s.len);
        break;

    case SFN_JV_FUNCTION:
        sfn_buf_add(b, "\"\"", 2);
        break;

    case SFN_JV_ARRAY:
        if (v->u.a->n == 0) {
            sfn_buf_add(b, "[]", 2);
            break;
        }
        sfn_buf_addc(b, '[');
        for (i = 0; i < v->u.a->n; i++) {
            if (i) {
                sfn_buf_addc(b, ',');
            }
            sfn_jv_indent(b, indent, level + 1);
            sfn_jv_stringify_level(ctx, b, v->u.a->v[i], indent, full,
                                   level + 1);
        }
        sfn_jv_indent(b, indent, level);
        sfn_buf_addc(b, ']');
        break;

    case SFN_JV_OBJECT:
        n = 0;
        sfn_buf_addc(b, '{');
        for (i = 0; i < v->u.o->n; i++) {
            if (v->u.o->v[i] == NULL) {
                continue;
            }
            if (n++) {
                sfn_buf_addc(b, ',');
            }
            sfn_jv_indent(b, indent, level + 1);
            sfn_buf_json_string(b, v->u.o->k[i].data, v->u.o->k[i].len);
            sfn_buf_addc(b, ':');
            if (indent) {
                sfn_buf_addc(b, ' ');
            }
            sfn_jv_stringify_level(ctx, b, v->u.o->v[i], indent, full,
                                   level + 1);
        }
        if (n) {
            sfn_jv_indent(b, indent, level);
        }
        sfn_buf_addc(b, '}');
        break;
    }
}


/*
 * JSON.stringify; "full": all the digits of numbers (the runner's output),
 * else $string()'s 15 significant digits.  On an error the caller's buffer
 * is lost to the arena-less malloc: callers use sfn_jv_to_string().
 */

void
sfn_jv_stringify(sfn_jctx_t *ctx, sfn_buf_t *b, const sfn_jv_t *v,
    int indent, int full)
{
    sfn_jv_stringify_level(ctx, b, v, indent, full, 0);
}


sfn_jv_t *
sfn_jv_to_string(sfn_jctx_t *ctx, sfn_jv_t *v, int pretty)
{
    sfn_buf_t            b;
    sfn_jv_t            *r;
    sfn_jv_t *volatile   val;
    jmp_buf              jmp, *saved;

    val = v;
    if (v->type == SFN_JV_ARRAY && (v->flags & SFN_JV_OUTER)
        && v->u.a->n > 0)
    {
        val = v->u.a->v[0];
    }

    memset(&b, 0, sizeof(sfn_buf_t));

    /* an Infinity inside: free the buffer before passing the error on */
    saved = ctx->jmp;
    ctx->jmp = &jmp;

    if (setjmp(jmp) != 0) {
        ctx->jmp = saved;
        sfn_buf_free(&b);
        longjmp(*ctx->jmp, 1);
    }

    sfn_jv_stringify(ctx, &b, val, pretty ? 2 : 0, 0);
    ctx->jmp = saved;

    if (b.failed) {
        sfn_buf_free(&b);
        sfn_jthrow(ctx, "U1000");
    }

    r = sfn_jv_string(ctx, b.data ? b.data : "", b.len);
    sfn_buf_free(&b);

    return r;
}


/* arena strings */

void
sfn_jsb_init(sfn_jctx_t *ctx, sfn_jsb_t *b)
{
    b->ctx = ctx;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}


void
sfn_jsb_add(sfn_jsb_t *b, const char *s, size_t len)
{
    char    *p;
    size_t   cap;

    if (b->len + len + 1 > b->cap) {
        cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + len + 1) {
            cap *= 2;
        }
        p = sfn_jalloc(b->ctx, cap);
        if (b->len) {
            memcpy(p, b->data, b->len);
        }
        b->data = p;
        b->cap = cap;
    }

    if (len) {
        memcpy(b->data + b->len, s, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
}


void
sfn_jsb_adds(sfn_jsb_t *b, const char *s)
{
    sfn_jsb_add(b, s, strlen(s));
}


void
sfn_jsb_addc(sfn_jsb_t *b, char c)
{
    sfn_jsb_add(b, &c, 1);
}


void
sfn_jsb_printf(sfn_jsb_t *b, const char *fmt, ...)
{
    int      n;
    char     tmp[256];
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);

    if (n > 0) {
        sfn_jsb_add(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n
                                                     : sizeof(tmp) - 1);
    }
}


sfn_jv_t *
sfn_jsb_value(sfn_jsb_t *b)
{
    return sfn_jv_string(b->ctx, b->data ? b->data : "", b->len);
}


/* UTF-8; a byte that starts no sequence stands for itself */

size_t
sfn_utf8_decode(const char *s, size_t len, uint32_t *out)
{
    size_t         i, n, k, need;
    uint32_t       c;
    unsigned char  b;

    n = 0;

    for (i = 0; i < len; ) {
        b = (unsigned char) s[i];

        if (b < 0x80) {
            c = b;
            need = 0;
        } else if ((b & 0xe0) == 0xc0) {
            c = b & 0x1f;
            need = 1;
        } else if ((b & 0xf0) == 0xe0) {
            c = b & 0x0f;
            need = 2;
        } else if ((b & 0xf8) == 0xf0) {
            c = b & 0x07;
            need = 3;
        } else {
            c = b;
            need = 0;
        }

        if (i + need >= len + (need ? 0 : 1)) {
            c = b;
            need = 0;
        }

        for (k = 1; k <= need; k++) {
            if (((unsigned char) s[i + k] & 0xc0) != 0x80) {
                c = b;
                need = 0;
                break;
            }
            c = (c << 6) | ((unsigned char) s[i + k] & 0x3f);
        }

        if (out) {
            out[n] = c;
        }
        n++;
        i += need + 1;
    }

    return n;
}


size_t
sfn_utf8_encode(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char) c;
        return 1;
    }

    if (c < 0x800) {
        out[0] = (char) (0xc0 | (c >> 6));
        out[1] = (char) (0x80 | (c & 0x3f));
        return 2;
    }

    if (c < 0x10000) {
        out[0] = (char) (0xe0 | (c >> 12));
        out[1] = (char) (0x80 | ((c >> 6) & 0x3f));
        out[2] = (char) (0x80 | (c & 0x3f));
        return 3;
    }

    out[0] = (char) (0xf0 | (c >> 18));
    out[1] = (char) (0x80 | ((c >> 12) & 0x3f));
    out[2] = (char) (0x80 | ((c >> 6) & 0x3f));
    out[3] = (char) (0x80 | (c & 0x3f));
    return 4;
}


size_t
sfn_utf8_count(const char *s, size_t len)
{
    return sfn_utf8_decode(s, len, NULL);
}


/* the byte offset of the character at index chars */

size_t
sfn_utf8_offset(const char *s, size_t len, size_t chars)
{
    size_t         i, n;
    unsigned char  b;

    for (i = 0, n = 0; i < len && n < chars; n++) {
        b = (unsigned char) s[i];
        i++;
        if (b >= 0xc0) {
            while (i < len && ((unsigned char) s[i] & 0xc0) == 0x80) {
                i++;
            }
        }
    }

    return i;
}


/* errors */

void
sfn_jthrow(sfn_jctx_t *ctx, const char *code)
{
    ctx->code = code;
    longjmp(*ctx->jmp, 1);
}


void
sfn_jthrow_v(sfn_jctx_t *ctx, const char *code, sfn_jv_t *value)
{
    ctx->value = value;
    sfn_jthrow(ctx, code);
}


static const struct {
    const char  *code;
    const char  *text;
} sfn_jerrors[] = {
    { "S0101", "String literal must be terminated by a matching quote" },
    { "S0102", "Number out of range: {{token}}" },
    { "S0103", "Unsupported escape sequence: \\{{token}}" },
    { "S0104", "The escape sequence \\u must be followed by 4 hex digits" },
    { "S0105", "Quoted property name must be terminated with a backquote (`)" },
    { "S0106", "Comment has no closing tag" },
    { "S0201", "Syntax error: {{token}}" },
    { "S0202", "Expected {{value}}, got {{token}}" },
    { "S0203", "Expected {{value}} before end of expression" },
    { "S0204", "Unknown operator: {{token}}" },
    { "S0205", "Unexpected token: {{token}}" },
    { "S0206", "Unknown expression type: {{token}}" },
    { "S0207", "Unexpected end of expression" },
    { "S0208", "Parameter {{value}} of function definition must be a variable name (start with $)" },
    { "S0209", "A predicate cannot follow a grouping expression in a step" },
    { "S0210", "Each step can only have one grouping expression" },
    { "S0211", "The symbol {{token}} cannot be used as a unary operator" },
    { "S0212", "The left side of := must be a variable name (start with $)" },
    { "S0213", "The literal value {{value}} cannot be used as a step within a path expression" },
    { "S0214", "The right side of {{token}} must be a variable name (start with $)" },
    { "S0215", "A context variable binding must precede any predicates on a step" },
    { "S0216", "A context variable binding must precede the 'order-by' clause on a step" },
    { "S0217", "The object representing the 'parent' cannot be derived from this expression" },
    { "S0301", "Empty regular expressions are not allowed" },
    { "S0302", "No terminating / in regular expression" },
    { "S0303", "Invalid regular expression: {{token}}" },
    { "S0402", "Choice groups containing parameterized types are not supported" },
    { "S0401", "Type parameters can only be applied to functions and arrays" },
    { "S0500", "Attempted to evaluate an expression containing syntax error(s)" },
    { "T0410", "Argument {{index}} of function {{token}} does not match function signature" },
    { "T0411", "Context value is not a compatible type with argument {{index}} of function {{token}}" },
    { "T0412", "Argument {{index}} of function {{token}} must be an array of {{type}}" },
    { "D1001", "Number out of range: {{value}}" },
    { "D1002", "Cannot negate a non-numeric value: {{value}}" },
    { "T1003", "Key in object structure must evaluate to a string; got: {{value}}" },
    { "D1004", "Regular expression matches zero length string" },
    { "T1005", "Attempted to invoke a non-function. Did you mean ${{{token}}}?" },
    { "T1006", "Attempted to invoke a non-function" },
    { "T1007", "Attempted to partially apply a non-function. Did you mean ${{{token}}}?" },
    { "T1008", "Attempted to partially apply a non-function" },
    { "D1009", "Multiple key definitions evaluate to same key: {{value}}" },
    { "T1010", "The matcher function argument passed to function {{token}} does not return the correct object structure" },
    { "T2001", "The left side of the {{token}} operator must evaluate to a number" },
    { "T2002", "The right side of the {{token}} operator must evaluate to a number" },
    { "T2003", "The left side of the range operator (..) must evaluate to an integer" },
    { "T2004", "The right side of the range operator (..) must evaluate to an integer" },
    { "T2006", "The right side of the function application operator ~> must be a function" },
    { "T2007", "Type mismatch when comparing values {{value}} and {{value2}} in order-by clause" },
    { "T2008", "The expressions within an order-by clause must evaluate to numeric or string values" },
    { "T2009", "The values {{value}} and {{value2}} either side of operator {{token}} must be of the same data type" },
    { "T2010", "The expressions either side of operator {{token}} must evaluate to numeric or string values" },
    { "T2011", "The insert/update clause of the transform expression must evaluate to an object: {{value}}" },
    { "T2012", "The delete clause of the transform expression must evaluate to a string or array of strings: {{value}}" },
    { "T2013", "The transform expression clones the input object using the $clone() function.  This has been overridden in the current scope by a non-function." },
    { "D2014", "The size of the sequence allocated by the range operator (..) must not exceed 1e6.  Attempted to allocate {{value}}." },
    { "D3001", "Attempting to invoke string function on Infinity or NaN" },
    { "D3010", "Second argument of replace function cannot be an empty string" },
    { "D3011", "Fourth argument of replace function must evaluate to a positive number" },
    { "D3012", "Attempted to replace a matched string with a non-string value" },
    { "D3020", "Third argument of split function must evaluate to a positive number" },
    { "D3030", "Unable to cast value to a number: {{value}}" },
    { "D3040", "Third argument of match function must evaluate to a positive number" },
    { "D3050", "The second argument of reduce function must be a function with at least two arguments" },
    { "D3060", "The sqrt function cannot be applied to a negative number: {{value}}" },
    { "D3061", "The power function has resulted in a value that cannot be represented as a JSON number: base={{value}}, exponent={{value2}}" },
    { "D3070", "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function" },
    { "D3080", "The picture string must only contain a maximum of two sub-pictures" },
    { "D3081", "The sub-picture must not contain more than one instance of the 'decimal-separator' character" },
    { "D3082", "The sub-picture must not contain more than one instance of the 'percent' character" },
    { "D3083", "The sub-picture must not contain more than one instance of the 'per-mille' character" },
    { "D3084", "The sub-picture must not contain both a 'percent' and a 'per-mille' character" },
    { "D3085", "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'" },
    { "D3086", "The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character" },
    { "D3087", "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character" },
    { "D3088", "The sub-picture must not contain a 'grouping-separator' at the end of the integer part" },
    { "D3089", "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character" },
    { "D3090", "The integer part of the sub-picture must not contain a member of the 'decimal digit family' that is followed by an instance of the 'optional digit character'" },
    { "D3091", "The fractional part of the sub-picture must not contain an instance of the 'optional digit character' that is followed by a member of the 'decimal digit family'" },
    { "D3092", "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character treated as an 'exponent-separator'" },
    { "D3093", "The exponent part of the sub-picture must comprise only of one or more characters that are members of the 'decimal digit family'" },
    { "D3100", "The radix of the formatBase function must be between 2 and 36.  It was given {{value}}" },
    { "D3110", "The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given {{value}}" },
    { "D3120", "Syntax error in expression passed to function eval: {{value}}" },
    { "D3121", "Dynamic error evaluating the expression passed to function eval: {{value}}" },
    { "D3130", "Formatting or parsing an integer as a sequence starting with {{value}} is not supported by this implementation" },
    { "D3131", "In a decimal digit pattern, all digits must be from the same decimal group" },
    { "D3132", "Unknown component specifier {{value}} in date/time picture string" },
    { "D3133", "The 'name' modifier can only be applied to months and days in the date/time picture string, not {{value}}" },
    { "D3134", "The timezone integer format specifier cannot have more than four digits" },
    { "D3135", "No matching closing bracket ']' in date/time picture string" },
    { "D3136", "The date/time picture string is missing specifiers required to parse the timestamp" },
    { "D3137", "{{{message}}}" },
    { "D3138", "The $single() function expected exactly 1 matching result.  Instead it matched more." },
    { "D3139", "The $single() function expected exactly 1 matching result.  Instead it matched 0." },
    { "D3140", "Malformed URL passed to ${{{token}}}(): {{value}}" },
    { "D3141", "{{{message}}}" },
    { "U1000", "Out of memory: the evaluation exceeds its memory limit" },
    { "U1001", "{{{message}}}" }
};


static void
sfn_jerror_insert(sfn_jctx_t *ctx, sfn_buf_t *b, const char *name, size_t len,
    int raw)
{
    sfn_jv_t  *v;

#define sfn_jname_is(s)  (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)

    if (sfn_jname_is("message")) {
        sfn_buf_adds(b, ctx->message ? ctx->message : "");

    } else if (sfn_jname_is("token")) {
        if (raw) {
            sfn_buf_adds(b, ctx->token ? ctx->token : "");
        } else if (ctx->token) {
            sfn_buf_json_string(b, ctx->token, strlen(ctx->token));
        } else {
            sfn_buf_adds(b, "undefined");
        }

    } else if (sfn_jname_is("type")) {
        sfn_buf_adds(b, ctx->type ? ctx->type : "undefined");

    } else if (sfn_jname_is("index")) {
        sfn_buf_printf(b, "%d", ctx->index);

    } else if (sfn_jname_is("value") || sfn_jname_is("value2")) {
        v = sfn_jname_is("value") ? ctx->value : ctx->value2;
        if (v == NULL || v->type == SFN_JV_FUNCTION) {
            sfn_buf_adds(b, "undefined");
        } else {
            sfn_jv_stringify(ctx, b, v, 0, 1);
        }

    } else {
        sfn_buf_adds(b, "undefined");
    }

#undef sfn_jname_is
}


void
sfn_jerror_message(sfn_jctx_t *ctx, sfn_buf_t *b)
{
    size_t       i;
    const char  *t, *end;

    for (i = 0; i < sfn_nelems(sfn_jerrors); i++) {
        if (strcmp(sfn_jerrors[i].code, ctx->code) == 0) {
            break;
        }
    }

    if (i == sfn_nelems(sfn_jerrors)) {
        sfn_buf_adds(b, ctx->code);
        return;
    }

    for (t = sfn_jerrors[i].text; *t; ) {
        if (strncmp(t, "{{{", 3) == 0 && (end = strstr(t + 3, "}}}"))) {
            sfn_jerror_insert(ctx, b, t + 3, end - t - 3, 1);
            t = end + 3;

        } else if (strncmp(t, "{{", 2) == 0 && (end = strstr(t + 2, "}}"))) {
            sfn_jerror_insert(ctx, b, t + 2, end - t - 2, 0);
            t = end + 2;

        } else {
            sfn_buf_addc(b, *t++);
        }
    }
}

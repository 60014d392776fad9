
/*
 * Copyright (C) ngx_sfn authors
 *
 * Payloads shared by an execution and the history events that refer to
 * them.  With sfn_exec_conf_t.lazy_events an event refers to the state's
 * input or output tree itself: the tree is then boxed with a reference
 * count, the run holds one reference and every event the host keeps
 * (sfn_event_hold()) another.  A shared tree is immutable: the run that
 * wants to change it or give it away takes it back (sfn_payload_take()),
 * which costs a copy only while an event still refers to it.
 *
 * An execution's input is parsed into a payload of its own from the
 * start (sfn_payload_parse()): the box, its nodes and its strings in one
 * allocation, freed at once when the last reference goes; a JSONata
 * state's output is built in an arena the box owns (sfn_payload_new()).
 * Such a tree is never changed nor given away, only copied.
 *
 * A JSONata output may refer to the arrays and objects of its input
 * instead of copying them (cJSON_IsReference nodes, sfn_payload_lend()):
 * it then holds the payloads whose nodes it refers to.
 */


#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"


struct sfn_payload_s {
    unsigned              refs;
    unsigned              block:1;    /* json lives in this allocation or
                                         in pool */
    cJSON                *json;
    sfn_pool_t            pool;

    sfn_payload_t       **held;       /* whose nodes json refers to */
    size_t                nheld;
    size_t                cap;
    size_t                bound;      /* sfn_payload_bound(), 0: none */
    sfn_payload_t        *next;       /* sfn_payload_release()'s list */
};


/* the box, then its nodes, then their strings */
#define SFN_PAYLOAD_HEAD                                                    \
    ((sizeof(sfn_payload_t) + _Alignof(cJSON) - 1) & ~(_Alignof(cJSON) - 1))


sfn_payload_t *
sfn_payload_parse(const char *text, size_t len)
{
    char           *block;
    size_t          n, strings;
    cJSON          *v;
    sfn_payload_t  *s;

    n = sfn_json_parse_nodes(text, len, &strings);

    /* a string's text only shrinks when its escapes are decoded */
    block = malloc(SFN_PAYLOAD_HEAD + n * sizeof(cJSON) + len + strings);
    if (block == NULL) {
        return NULL;
    }

    s = (sfn_payload_t *) block;
    block += SFN_PAYLOAD_HEAD;

    v = sfn_json_parse_block(text, len, (cJSON *) block, n,
                             block + n * sizeof(cJSON), len + strings);
    if (v == NULL) {
        free(s);
        return NULL;
    }

    s->refs = 1;
    s->block = 1;
    s->json = v;
    s->pool.chunk = NULL;
    s->held = NULL;
    s->nheld = 0;
    s->cap = 0;
    s->bound = 0;

    return s;
}


/*
 * A payload whose tree is built in its own arena (sfn_json_pnode() and
 * the like on sfn_payload_pool()), then set: a block, as a parsed one.
 */
sfn_payload_t *
sfn_payload_new(void)
{
    sfn_payload_t  *s;

    s = calloc(1, sizeof(sfn_payload_t));
    if (s == NULL) {
        return NULL;
    }

    s->refs = 1;
    s->block = 1;

    return s;
}


sfn_pool_t *
sfn_payload_pool(sfn_payload_t *p)
{
    return &p->pool;
}


void
sfn_payload_set(sfn_payload_t *p, cJSON *json)
{
    p->json = json;
}


/* boxes v in *p, unless it is already; NULL when out of memory */
sfn_payload_t *
sfn_payload_share(cJSON *v, sfn_payload_t **p)
{
    sfn_payload_t  *s;

    if (*p) {
        return *p;
    }

    s = malloc(sizeof(sfn_payload_t));
    if (s == NULL) {
        return NULL;
    }

    s->refs = 1;
    s->block = 0;
    s->json = v;
    s->pool.chunk = NULL;
    s->held = NULL;
    s->nheld = 0;
    s->cap = 0;
    s->bound = 0;
    *p = s;

    return s;
}


/* v (boxed in *p, or owned when *p is NULL) is no longer wanted */
void
sfn_payload_drop(cJSON *v, sfn_payload_t **p)
{
    if (*p == NULL) {
        cJSON_Delete(v);
        return;
    }

    sfn_payload_release(*p);
    *p = NULL;
}


/*
 * v (boxed in *p, or owned) to change or to give away: v itself when no
 * event holds it any more and it is not a block, otherwise a copy.  NULL
 * when out of memory, with v and *p as they were.
 */
cJSON *
sfn_payload_take(cJSON *v, sfn_payload_t **p)
{
    cJSON          *c;
    sfn_payload_t  *s;

    s = *p;

    if (s == NULL) {
        return v;
    }

    if (s->refs == 1 && !s->block) {
        free(s);
        *p = NULL;
        return v;
    }

    c = cJSON_Duplicate(v, 1);
    if (c == NULL) {
        return NULL;
    }

    sfn_payload_release(s);
    *p = NULL;

    return c;
}


sfn_payload_t *
sfn_event_hold(const sfn_event_t *ev)
{
    sfn_payload_t  *s;

    s = ev->shared;

    if (s) {
        s->refs++;
    }

    return s;
}


const cJSON *
sfn_payload_json(const sfn_payload_t *p)
{
    return p->json;
}


/*
 * Not less than the size of p's JSON text, worked out once: a node that
 * refers to a held payload's nodes counts as the largest held payload,
 * whose tree those nodes are reachable from.  Past SFN_MAX_PAYLOAD it
 * only says "too large to tell": the caller sizes the tree itself.
 */
size_t
sfn_payload_bound(sfn_payload_t *p)
{
    size_t  i, ref, b;

    if (p->bound) {
        return p->bound;
    }

    ref = 0;

    for (i = 0; i < p->nheld; i++) {
        b = sfn_payload_bound(p->held[i]);
        if (b > ref) {
            ref = b;
        }
    }

    b = sfn_json_size_max(p->json, p->nheld ? ref : 0);

    p->bound = b > SFN_MAX_PAYLOAD ? SFN_MAX_PAYLOAD + 1 : b;

    return p->bound;
}


/* a list, not recursion: a long chain of held payloads is freed too */
void
sfn_payload_release(sfn_payload_t *p)
{
    size_t          i;
    sfn_payload_t  *list, *s;

    if (p == NULL || --p->refs) {
        return;
    }

    p->next = NULL;
    list = p;

    while (list) {
        p = list;
        list = p->next;

        for (i = 0; i < p->nheld; i++) {
            s = p->held[i];

            if (--s->refs == 0) {
                s->next = list;
                list = s;
            }
        }

        if (!p->block) {
            cJSON_Delete(p->json);
        }

        sfn_pool_destroy(&p->pool);
        free(p);
    }
}


static int
sfn_payload_hold(sfn_payload_t *p, sfn_payload_t *s)
{
    size_t           i, cap;
    sfn_payload_t  **v;

    for (i = 0; i < p->nheld; i++) {
        if (p->held[i] == s) {
            return 0;
        }
    }

    if (p->nheld == p->cap) {
        cap = p->cap ? p->cap * 2 : 4;
        v = sfn_palloc(&p->pool, cap * sizeof(sfn_payload_t *));
        if (v == NULL) {
            return -1;
        }

        if (p->nheld) {
            memcpy(v, p->held, p->nheld * sizeof(sfn_payload_t *));
        }

        p->held = v;
        p->cap = cap;
    }

    s->refs++;
    p->held[p->nheld++] = s;

    return 0;
}


/*
 * p's tree (an arena's) refers to nodes of from's tree: to its own when
 * own is set, to nodes from's tree refers to in turn when held is.  p
 * holds from itself only for the first: a tree passed on from state to
 * state keeps only the payload that made it, not every one in between.
 */
int
sfn_payload_lend(sfn_payload_t *p, sfn_payload_t *from, int own, int held)
{
    size_t  i;

    if (own && sfn_payload_hold(p, from) != 0) {
        return -1;
    }

    if (held) {
        for (i = 0; i < from->nheld; i++) {
            if (sfn_payload_hold(p, from->held[i]) != 0) {
                return -1;
            }
        }
    }

    return 0;
}

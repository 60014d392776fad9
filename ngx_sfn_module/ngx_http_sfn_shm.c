
/*
 * Copyright (C) ngx_sfn authors
 *
 * Execution records in the shared zone, so that any worker answers a
 * describe.  The zone is a cache of PostgreSQL: when it is full, the oldest
 * finished records are evicted.
 */


#include "ngx_http_sfn_module.h"


/* the tree nodes begin with the key, so one insert and lookup serve both */

typedef struct {
    ngx_rbtree_node_t            node;
    ngx_str_t                    key;
} ngx_http_sfn_shm_keyed_t;


/* keyed by the execution ARN: names are unique per state machine only */

typedef struct {
    ngx_rbtree_node_t            node;
    ngx_str_t                    arn;
    ngx_queue_t                  queue;     /* in running or lru */
    sfn_status_e                 status;
    ngx_pid_t                    owner;     /* the worker that runs it */
    int64_t                      start_ms;
    int64_t                      stop_ms;
    int64_t                      redrive_ms;
    ngx_uint_t                   redrive_count;
    double                       percent;
    double                       fps;
    ngx_uint_t                   durable;
    ngx_str_t                    name;
    ngx_str_t                    machine;
    ngx_str_t                    state;
    ngx_str_t                    input;
    ngx_str_t                    output;
    ngx_str_t                    error;
    ngx_str_t                    cause;
    ngx_str_t                    trace;
    ngx_str_t                    version;
    ngx_str_t                    alias;
} ngx_http_sfn_shm_node_t;


typedef struct {
    ngx_rbtree_node_t            node;
    ngx_str_t                    token;
    ngx_str_t                    arn;       /* of the execution */
    uint64_t                     task;
    ngx_uint_t                   closed;    /* answered, timed out, ended */
    ngx_queue_t                  queue;     /* closed ones, oldest first */
} ngx_http_sfn_shm_token_t;


typedef struct {
    ngx_queue_t                  queue;
    ngx_http_sfn_msg_t           msg;
} ngx_http_sfn_shm_msg_t;


struct ngx_http_sfn_shm_s {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  lru;       /* finished, oldest first */
    ngx_queue_t                  running;
    ngx_rbtree_t                 tokens;
    ngx_rbtree_node_t            tokens_sentinel;
    ngx_queue_t                  mailbox;   /* for the owning workers */
    ngx_queue_t                  closed;    /* tokens, evicted first */
    ngx_atomic_t                 nmsgs;
};


#define ngx_http_sfn_shm_strings(s, n)                                       \
    s[0] = &(n)->arn; s[1] = &(n)->name; s[2] = &(n)->machine;               \
    s[3] = &(n)->state; s[4] = &(n)->input; s[5] = &(n)->output;             \
    s[6] = &(n)->error; s[7] = &(n)->cause; s[8] = &(n)->trace;              \
    s[9] = &(n)->version; s[10] = &(n)->alias

#define NGX_HTTP_SFN_SHM_NSTR  11


static void
ngx_http_sfn_shm_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t         **p;
    ngx_http_sfn_shm_keyed_t   *n, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            n = (ngx_http_sfn_shm_keyed_t *) node;
            t = (ngx_http_sfn_shm_keyed_t *) temp;

            p = (ngx_memn2cmp(n->key.data, t->key.data, n->key.len,
                              t->key.len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_rbtree_node_t *
ngx_http_sfn_shm_find(ngx_rbtree_t *tree, ngx_str_t *key)
{
    ngx_int_t                  rc;
    uint32_t                   hash;
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_http_sfn_shm_keyed_t  *n;

    hash = ngx_crc32_short(key->data, key->len);

    node = tree->root;
    sentinel = tree->sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        n = (ngx_http_sfn_shm_keyed_t *) node;

        rc = ngx_memn2cmp(key->data, n->key.data, key->len, n->key.len);

        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_int_t
ngx_http_sfn_shm_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_sfn_main_conf_t *osmcf = data;

    size_t                     len;
    ngx_slab_pool_t           *shpool;
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = zone->data;

    if (osmcf) {
        smcf->sh = osmcf->sh;
        smcf->shpool = osmcf->shpool;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    smcf->shpool = shpool;

    if (zone->shm.exists) {
        smcf->sh = shpool->data;
        return NGX_OK;
    }

    smcf->sh = ngx_slab_alloc(shpool, sizeof(ngx_http_sfn_shm_t));
    if (smcf->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = smcf->sh;

    ngx_rbtree_init(&smcf->sh->rbtree, &smcf->sh->sentinel,
                    ngx_http_sfn_shm_rbtree_insert);
    ngx_queue_init(&smcf->sh->lru);
    ngx_queue_init(&smcf->sh->running);

    ngx_rbtree_init(&smcf->sh->tokens, &smcf->sh->tokens_sentinel,
                    ngx_http_sfn_shm_rbtree_insert);
    ngx_queue_init(&smcf->sh->mailbox);
    ngx_queue_init(&smcf->sh->closed);

    len = sizeof(" in sfn_zone \"\"") + zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in sfn_zone \"%V\"%Z", &zone->shm.name);

    shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_http_sfn_shm_node_t *
ngx_http_sfn_shm_lookup(ngx_http_sfn_shm_t *sh, ngx_str_t *arn)
{
    return (ngx_http_sfn_shm_node_t *) ngx_http_sfn_shm_find(&sh->rbtree,
                                                             arn);
}


static void
ngx_http_sfn_shm_free_node(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_shm_node_t *n)
{
    ngx_uint_t   i;
    ngx_str_t   *s[NGX_HTTP_SFN_SHM_NSTR];

    ngx_http_sfn_shm_strings(s, n);

    for (i = 0; i < NGX_HTTP_SFN_SHM_NSTR; i++) {
        if (s[i]->data) {
            ngx_slab_free_locked(smcf->shpool, s[i]->data);
        }
    }

    ngx_rbtree_delete(&smcf->sh->rbtree, &n->node);
    ngx_queue_remove(&n->queue);

    ngx_slab_free_locked(smcf->shpool, n);
}


static void
ngx_http_sfn_shm_token_free(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_shm_token_t *t)
{
    ngx_rbtree_delete(&smcf->sh->tokens, &t->node);

    if (t->closed) {
        ngx_queue_remove(&t->queue);
    }

    ngx_slab_free_locked(smcf->shpool, t->token.data);
    ngx_slab_free_locked(smcf->shpool, t->arn.data);
    ngx_slab_free_locked(smcf->shpool, t);
}


/*
 * allocates, evicting closed task tokens and then the oldest finished
 * executions while the zone is full
 */

static void *
ngx_http_sfn_shm_alloc(ngx_http_sfn_main_conf_t *smcf, size_t size,
    ngx_http_sfn_shm_node_t *keep)
{
    void                     *p;
    ngx_queue_t              *q;
    ngx_http_sfn_shm_node_t  *old;

    for ( ;; ) {
        p = ngx_slab_alloc_locked(smcf->shpool, size);
        if (p) {
            return p;
        }

        if (!ngx_queue_empty(&smcf->sh->closed)) {
            q = ngx_queue_head(&smcf->sh->closed);
            ngx_http_sfn_shm_token_free(smcf,
                ngx_queue_data(q, ngx_http_sfn_shm_token_t, queue));
            continue;
        }

        if (ngx_queue_empty(&smcf->sh->lru)) {
            return NULL;
        }

        q = ngx_queue_head(&smcf->sh->lru);
        old = ngx_queue_data(q, ngx_http_sfn_shm_node_t, queue);

        if (old == keep) {
            return NULL;
        }

        ngx_http_sfn_shm_free_node(smcf, old);
    }
}


ngx_int_t
ngx_http_sfn_shm_put(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_record_t *rec)
{
    u_char                   *p;
    ngx_str_t                *src[NGX_HTTP_SFN_SHM_NSTR];
    ngx_str_t                *dst[NGX_HTTP_SFN_SHM_NSTR];
    ngx_uint_t                i;
    ngx_http_sfn_shm_node_t  *n;

    if (smcf->shpool == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_sfn_shm_strings(src, rec);

    ngx_shmtx_lock(&smcf->shpool->mutex);

    n = ngx_http_sfn_shm_lookup(smcf->sh, &rec->arn);

    if (n == NULL) {
        n = ngx_http_sfn_shm_alloc(smcf, sizeof(ngx_http_sfn_shm_node_t),
                                   NULL);
        if (n == NULL) {
            goto nomem;
        }

        ngx_memzero(n, sizeof(ngx_http_sfn_shm_node_t));

        n->arn.data = ngx_http_sfn_shm_alloc(smcf, rec->arn.len, NULL);
        if (n->arn.data == NULL) {
            ngx_slab_free_locked(smcf->shpool, n);
            goto nomem;
        }

        n->arn.len = rec->arn.len;
        ngx_memcpy(n->arn.data, rec->arn.data, rec->arn.len);

        n->node.key = ngx_crc32_short(rec->arn.data, rec->arn.len);
        n->status = SFN_RUNNING;
        ngx_rbtree_insert(&smcf->sh->rbtree, &n->node);
        ngx_queue_insert_tail(&smcf->sh->running, &n->queue);
    }

    ngx_queue_remove(&n->queue);

    n->status = rec->status;

    /* only the worker that runs an execution writes its record */
    n->owner = ngx_pid;

    if (rec->durable) {
        n->durable = 1;
    }

    /* progress is reported while a task runs; 0 leaves it, -1 clears it */

    if (rec->percent) {
        n->percent = rec->percent;
        n->fps = rec->fps;
    }

    if (rec->start_ms) {
        n->start_ms = rec->start_ms;
    }

    if (rec->stop_ms) {
        n->stop_ms = rec->stop_ms;
    }

    if (rec->redrive_count) {
        n->redrive_count = rec->redrive_count;
        n->redrive_ms = rec->redrive_ms ? rec->redrive_ms : n->redrive_ms;
    }

    ngx_queue_insert_tail(n->status == SFN_RUNNING ? &smcf->sh->running
                                                   : &smcf->sh->lru,
                          &n->queue);

    ngx_http_sfn_shm_strings(dst, n);

    /* the ARN is the key; a NULL source leaves a field as it is */

    for (i = 1; i < NGX_HTTP_SFN_SHM_NSTR; i++) {
        if (src[i]->data == NULL) {
            continue;
        }

        if (dst[i]->len == src[i]->len && dst[i]->data
            && ngx_memcmp(dst[i]->data, src[i]->data, src[i]->len) == 0)
        {
            continue;
        }

        p = NULL;

        if (src[i]->len) {
            p = ngx_http_sfn_shm_alloc(smcf, src[i]->len, n);
            if (p == NULL) {
                goto nomem;
            }

            ngx_memcpy(p, src[i]->data, src[i]->len);
        }

        if (dst[i]->data) {
            ngx_slab_free_locked(smcf->shpool, dst[i]->data);
        }

        dst[i]->data = p;
        dst[i]->len = src[i]->len;
    }

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                  "sfn_zone \"%V\" is full, execution \"%V\" is not cached",
                  &smcf->shm_zone->shm.name, &rec->arn);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_sfn_shm_get(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *arn,
    ngx_pool_t *pool, ngx_http_sfn_record_t *rec)
{
    ngx_str_t                *src[NGX_HTTP_SFN_SHM_NSTR];
    ngx_str_t                *dst[NGX_HTTP_SFN_SHM_NSTR];
    ngx_uint_t                i;
    ngx_http_sfn_shm_node_t  *n;

    if (smcf->shpool == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_sfn_shm_strings(dst, rec);

    ngx_shmtx_lock(&smcf->shpool->mutex);

    n = ngx_http_sfn_shm_lookup(smcf->sh, arn);
    if (n == NULL) {
        ngx_shmtx_unlock(&smcf->shpool->mutex);
        return NGX_DECLINED;
    }

    ngx_http_sfn_shm_strings(src, n);

    rec->status = n->status;
    rec->owner = n->owner;
    rec->start_ms = n->start_ms;
    rec->stop_ms = n->stop_ms;
    rec->redrive_count = n->redrive_count;
    rec->redrive_ms = n->redrive_ms;
    rec->percent = n->percent;
    rec->fps = n->fps;
    rec->durable = n->durable;

    for (i = 0; i < NGX_HTTP_SFN_SHM_NSTR; i++) {
        dst[i]->len = src[i]->len;
        dst[i]->data = NULL;

        if (src[i]->data == NULL) {
            continue;
        }

        dst[i]->data = ngx_pnalloc(pool, src[i]->len + 1);
        if (dst[i]->data == NULL) {
            ngx_shmtx_unlock(&smcf->shpool->mutex);
            return NGX_ERROR;
        }

        *ngx_cpymem(dst[i]->data, src[i]->data, src[i]->len) = '\0';
    }

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return NGX_OK;
}


/* the status alone, for a check on every request (the origin's preview) */

ngx_int_t
ngx_http_sfn_shm_status(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *arn,
    sfn_status_e *status)
{
    ngx_http_sfn_shm_node_t  *n;

    if (smcf->shpool == NULL) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&smcf->shpool->mutex);

    n = ngx_http_sfn_shm_lookup(smcf->sh, arn);

    if (n != NULL) {
        *status = n->status;
    }

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return n != NULL ? NGX_OK : NGX_DECLINED;
}


/*
 * Retention: the finished records that stopped before before_ms leave the
 * zone, at most max of them looked at, oldest finished first, so that the
 * zone does not answer for an execution PostgreSQL no longer has.
 */

ngx_uint_t
ngx_http_sfn_shm_expire(ngx_http_sfn_main_conf_t *smcf, int64_t before_ms,
    ngx_uint_t max)
{
    ngx_uint_t                n, seen;
    ngx_queue_t              *q, *next;
    ngx_http_sfn_shm_node_t  *node;

    if (smcf->shpool == NULL) {
        return 0;
    }

    n = 0;
    seen = 0;

    ngx_shmtx_lock(&smcf->shpool->mutex);

    for (q = ngx_queue_head(&smcf->sh->lru);
         q != ngx_queue_sentinel(&smcf->sh->lru) && seen < max;
         q = next, seen++)
    {
        next = ngx_queue_next(q);
        node = ngx_queue_data(q, ngx_http_sfn_shm_node_t, queue);

        if (node->stop_ms && node->stop_ms < before_ms) {
            ngx_http_sfn_shm_free_node(smcf, node);
            n++;
        }
    }

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return n;
}


/*
 * An Express execution lives only in the worker that runs it: when that
 * worker is gone (gone is its pid as it exits, or 0 to find the dead ones
 * with kill(0)), its running records are ended as FAILED, so that every
 * describe tells the truth.  A Standard one is resumed from PostgreSQL by
 * another worker instead.  Returns the number of records ended.
 */

ngx_uint_t
ngx_http_sfn_shm_reap(ngx_http_sfn_main_conf_t *smcf, ngx_pid_t gone)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                n;
    ngx_pid_t                 dead, alive;
    ngx_queue_t              *q, *next;
    ngx_http_sfn_shm_node_t  *node;

    static ngx_str_t  error = ngx_string("States.Runtime");

    if (smcf->shpool == NULL) {
        return 0;
    }

    n = 0;
    dead = gone;
    alive = 0;

    ngx_shmtx_lock(&smcf->shpool->mutex);

    for (q = ngx_queue_head(&smcf->sh->running);
         q != ngx_queue_sentinel(&smcf->sh->running);
         q = next)
    {
        next = ngx_queue_next(q);
        node = ngx_queue_data(q, ngx_http_sfn_shm_node_t, queue);

        if (node->durable || node->owner == 0) {
            continue;
        }

        if (node->owner != dead) {

            if (gone
                || node->owner == ngx_pid
                || node->owner == alive
                || kill(node->owner, 0) == 0
                || ngx_errno != NGX_ESRCH)
            {
                alive = node->owner;
                continue;
            }

            dead = node->owner;
        }

        len = sizeof("The nginx worker that ran this Express execution "
                     "(pid ) exited before it ended; Express executions "
                     "are not durable") + NGX_INT64_LEN;

        p = ngx_http_sfn_shm_alloc(smcf, len, node);

        if (node->cause.data) {
            ngx_slab_free_locked(smcf->shpool, node->cause.data);
            node->cause.data = NULL;
            node->cause.len = 0;
        }

        if (p) {
            node->cause.data = p;
            node->cause.len = ngx_sprintf(p, "The nginx worker that ran this "
                                          "Express execution (pid %P) exited "
                                          "before it ended; Express "
                                          "executions are not durable",
                                          node->owner)
                              - p;
        }

        if (node->error.data) {
            ngx_slab_free_locked(smcf->shpool, node->error.data);
        }

        node->error.data = ngx_http_sfn_shm_alloc(smcf, error.len, node);
        node->error.len = node->error.data ? error.len : 0;

        if (node->error.data) {
            ngx_memcpy(node->error.data, error.data, error.len);
        }

        node->status = SFN_FAILED;
        node->stop_ms = ngx_http_sfn_now_ms();
        node->percent = 0;

        ngx_queue_remove(&node->queue);
        ngx_queue_insert_tail(&smcf->sh->lru, &node->queue);

        n++;
    }

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return n;
}


static ngx_http_sfn_shm_token_t *
ngx_http_sfn_shm_token_lookup(ngx_http_sfn_shm_t *sh, ngx_str_t *token)
{
    return (ngx_http_sfn_shm_token_t *) ngx_http_sfn_shm_find(&sh->tokens,
                                                              token);
}


static u_char *
ngx_http_sfn_shm_strdup(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *src,
    ngx_str_t *dst)
{
    dst->len = src->len;
    dst->data = NULL;

    if (src->data == NULL) {
        return (u_char *) "";
    }

    dst->data = ngx_http_sfn_shm_alloc(smcf, src->len ? src->len : 1, NULL);
    if (dst->data == NULL) {
        return NULL;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return dst->data;
}


ngx_int_t
ngx_http_sfn_shm_token_put(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *token,
    ngx_str_t *arn, uint64_t task)
{
    ngx_http_sfn_shm_token_t  *t;

    if (smcf->shpool == NULL) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&smcf->shpool->mutex);

    t = ngx_http_sfn_shm_alloc(smcf, sizeof(ngx_http_sfn_shm_token_t), NULL);
    if (t == NULL) {
        goto nomem;
    }

    if (ngx_http_sfn_shm_strdup(smcf, token, &t->token) == NULL) {
        ngx_slab_free_locked(smcf->shpool, t);
        goto nomem;
    }

    if (ngx_http_sfn_shm_strdup(smcf, arn, &t->arn) == NULL) {
        ngx_slab_free_locked(smcf->shpool, t->token.data);
        ngx_slab_free_locked(smcf->shpool, t);
        goto nomem;
    }

    t->task = task;
    t->closed = 0;
    t->node.key = ngx_crc32_short(token->data, token->len);
    ngx_rbtree_insert(&smcf->sh->tokens, &t->node);

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_sfn_shm_token_get(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *token,
    ngx_pool_t *pool, ngx_str_t *arn, uint64_t *task)
{
    ngx_http_sfn_shm_token_t  *t;

    if (smcf->shpool == NULL) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&smcf->shpool->mutex);

    t = ngx_http_sfn_shm_token_lookup(smcf->sh, token);

    if (t == NULL) {
        ngx_shmtx_unlock(&smcf->shpool->mutex);
        return NGX_DECLINED;
    }

    if (t->closed) {
        ngx_shmtx_unlock(&smcf->shpool->mutex);
        return NGX_BUSY;
    }

    *task = t->task;
    arn->len = t->arn.len;
    arn->data = ngx_pnalloc(pool, t->arn.len + 1);

    if (arn->data == NULL) {
        ngx_shmtx_unlock(&smcf->shpool->mutex);
        return NGX_ERROR;
    }

    *ngx_cpymem(arn->data, t->arn.data, t->arn.len) = '\0';

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return NGX_OK;
}


/*
 * A closed token stays, until the zone needs its room, so that a late or
 * repeated callback learns that the task is over (TaskTimedOut) rather
 * than that it never existed.  Returns NGX_BUSY if it was closed already.
 */

ngx_int_t
ngx_http_sfn_shm_token_close(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *token)
{
    ngx_int_t                  rc;
    ngx_http_sfn_shm_token_t  *t;

    if (smcf->shpool == NULL) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&smcf->shpool->mutex);

    t = ngx_http_sfn_shm_token_lookup(smcf->sh, token);

    if (t == NULL) {
        rc = NGX_DECLINED;

    } else if (t->closed) {
        rc = NGX_BUSY;

    } else {
        t->closed = 1;
        ngx_queue_insert_tail(&smcf->sh->closed, &t->queue);
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return rc;
}


void
ngx_http_sfn_shm_token_delete(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *token)
{
    ngx_http_sfn_shm_token_t  *t;

    if (smcf->shpool == NULL) {
        return;
    }

    ngx_shmtx_lock(&smcf->shpool->mutex);

    t = ngx_http_sfn_shm_token_lookup(smcf->sh, token);

    if (t) {
        ngx_http_sfn_shm_token_free(smcf, t);
    }

    ngx_shmtx_unlock(&smcf->shpool->mutex);
}


static void
ngx_http_sfn_shm_msg_free(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_shm_msg_t *m)
{
    if (m->msg.arn.data) {
        ngx_slab_free_locked(smcf->shpool, m->msg.arn.data);
    }

    if (m->msg.a.data) {
        ngx_slab_free_locked(smcf->shpool, m->msg.a.data);
    }

    if (m->msg.b.data) {
        ngx_slab_free_locked(smcf->shpool, m->msg.b.data);
    }

    ngx_slab_free_locked(smcf->shpool, m);
}


ngx_int_t
ngx_http_sfn_shm_msg_post(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_msg_t *msg)
{
    ngx_http_sfn_shm_msg_t  *m;

    if (smcf->shpool == NULL) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&smcf->shpool->mutex);

    m = ngx_http_sfn_shm_alloc(smcf, sizeof(ngx_http_sfn_shm_msg_t), NULL);
    if (m == NULL) {
        goto nomem;
    }

    ngx_memzero(m, sizeof(ngx_http_sfn_shm_msg_t));

    m->msg.kind = msg->kind;
    m->msg.task = msg->task;
    m->msg.posted = msg->posted;

    if (ngx_http_sfn_shm_strdup(smcf, &msg->arn, &m->msg.arn) == NULL
        || ngx_http_sfn_shm_strdup(smcf, &msg->a, &m->msg.a) == NULL
        || ngx_http_sfn_shm_strdup(smcf, &msg->b, &m->msg.b) == NULL)
    {
        ngx_http_sfn_shm_msg_free(smcf, m);
        goto nomem;
    }

    ngx_queue_insert_tail(&smcf->sh->mailbox, &m->queue);
    (void) ngx_atomic_fetch_add(&smcf->sh->nmsgs, 1);

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return NGX_ERROR;
}


ngx_uint_t
ngx_http_sfn_shm_msg_pending(ngx_http_sfn_main_conf_t *smcf)
{
    return smcf->shpool != NULL && smcf->sh->nmsgs != 0;
}


/*
 * Takes the messages that accept() wants into pool-allocated copies and
 * drops those older than expire_ms; returns the number taken.
 */

ngx_uint_t
ngx_http_sfn_shm_msg_take(ngx_http_sfn_main_conf_t *smcf,
    ngx_int_t (*accept)(ngx_http_sfn_msg_t *msg), int64_t expire_before,
    ngx_pool_t *pool, ngx_array_t *out)
{
    ngx_uint_t               n;
    ngx_queue_t             *q, *next;
    ngx_http_sfn_msg_t      *copy;
    ngx_http_sfn_shm_msg_t  *m;

    if (smcf->shpool == NULL || smcf->sh->nmsgs == 0) {
        return 0;
    }

    n = 0;

    ngx_shmtx_lock(&smcf->shpool->mutex);

    for (q = ngx_queue_head(&smcf->sh->mailbox);
         q != ngx_queue_sentinel(&smcf->sh->mailbox);
         q = next)
    {
        next = ngx_queue_next(q);
        m = ngx_queue_data(q, ngx_http_sfn_shm_msg_t, queue);

        if (accept(&m->msg)) {
            copy = ngx_array_push(out);
            if (copy == NULL) {
                break;
            }

            *copy = m->msg;

            if (ngx_http_sfn_pstr(pool, &m->msg.arn, &copy->arn) != NGX_OK
                || ngx_http_sfn_pstr(pool, &m->msg.a, &copy->a) != NGX_OK
                || ngx_http_sfn_pstr(pool, &m->msg.b, &copy->b) != NGX_OK)
            {
                out->nelts--;
                break;
            }

            n++;

        } else if (m->msg.posted >= expire_before) {
            continue;
        }

        ngx_queue_remove(q);
        ngx_http_sfn_shm_msg_free(smcf, m);
        (void) ngx_atomic_fetch_add(&smcf->sh->nmsgs, -1);
    }

    ngx_shmtx_unlock(&smcf->shpool->mutex);

    return n;
}

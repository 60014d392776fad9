
/*
 * Copyright (C) ngx_sfn authors
 *
 * Execution internals, shared by the interpreter and snapshot code.
 */

#ifndef _SFN_EXEC_H_INCLUDED_
#define _SFN_EXEC_H_INCLUDED_


#include "sfn_core.h"


/* what a run waits for, by id */
typedef enum {
    SFN_W_TASK = 1,
    SFN_W_WAIT,
    SFN_W_RETRY,
    SFN_W_TIMEOUT,
    SFN_W_HEARTBEAT,
    SFN_W_EXEC_TIMEOUT,
    SFN_W_YIELD
} sfn_wait_e;


/*
 * Synchronous transitions one event may run before the engine yields to
 * the host through a timer due at once, when the host has no yield
 * callback of its own to say when.
 */
#define SFN_BURST  50000

/* AWS ends an Express execution at five minutes */
#define SFN_EXPRESS_MAX_MS  (5 * 60 * 1000)


/* what a queued run does next */
typedef enum {
    SFN_A_NONE = 0,
    SFN_A_ENTER,
    SFN_A_TASK_OK,
    SFN_A_FAIL,
    SFN_A_WAIT_DONE,
    SFN_A_RETRY,
    SFN_A_CHILDREN
} sfn_action_e;


/* results of stepping a state */
#define SFN_R_NEXT   1
#define SFN_R_WAIT   2
#define SFN_R_END    3
#define SFN_R_FAIL   4
#define SFN_R_DONE   5


typedef struct sfn_run_s  sfn_run_t;


struct sfn_run_s {
    sfn_exec_t           *e;
    sfn_run_t            *parent;
    sfn_run_t            *kids;
    sfn_run_t            *sib_prev;
    sfn_run_t            *sib_next;
    sfn_run_t            *qnext;
    size_t                index;

    const sfn_graph_t    *graph;
    const sfn_state_t    *state;

    cJSON                *input;      /* the state's raw input, owned */
    cJSON                *eff;        /* effective input, owned */
    cJSON                *result;     /* a task's result, owned */
    sfn_err_t             err;

    sfn_action_e          action;
    unsigned              queued:1;
    unsigned              dead:1;
    unsigned              child_failed:1;
    unsigned              refused:1;

    int64_t               entered_ms;
    int64_t               entered_id;
    int64_t               prev_id;

    unsigned             *retries;
    size_t                nretries;
    unsigned              retry_total;

    uint64_t              task_id;
    uint64_t              timer_id;
    uint64_t              timeout_id;
    uint64_t              hb_id;
    sfn_wait_e            timer_kind;
    int64_t               timer_due;
    int64_t               timeout_due;
    int64_t               hb_due;
    int64_t               timeout_ms;
    int64_t               heartbeat_ms;
    char                 *token;
    char                 *rtype;
    char                 *rname;

    /* Parallel and Map */
    cJSON               **results;
    const cJSON         **items;
    cJSON               **batches;
    size_t                total;
    size_t                started;
    size_t                finished;
    size_t                failed;
    size_t                active;
    sfn_err_t             child_err;
    int64_t               max_conc;
    int64_t               tol_count;
    double                tol_pct;
    const cJSON          *map_item;
    size_t                map_index;
};


typedef struct {
    uint64_t              id;
    sfn_run_t            *run;
    int                   kind;
} sfn_slot_t;


struct sfn_exec_s {
    const sfn_machine_t  *m;
    sfn_host_t            host;
    void                 *data;

    char                 *name;
    char                 *arn;
    char                 *role_arn;
    char                 *sm_name;
    char                 *sm_arn;
    sfn_type_e            type;
    int64_t               start_ms;
    char                  start_time[64];
    char                 *strings;      /* the identity and input text */
    char                 *input_text;   /* as given */
    cJSON                *input;        /* parsed on demand, for $$ */
    cJSON                *first;        /* the first state's input */

    sfn_status_e          status;
    char                 *output;
    cJSON                *output_tree;  /* until output is printed */
    size_t                output_size;
    char                 *error;
    char                 *cause;

    sfn_run_t            *main;
    sfn_run_t            *qhead;
    sfn_run_t            *qtail;
    unsigned              busy:1;
    unsigned              started:1;
    unsigned              notified:1;
    unsigned              history_full:1;

    int64_t               event_id;
    uint64_t              burst;
    uint64_t              next_id;
    uint64_t              exec_timer_id;

    sfn_slot_t           *slots;
    size_t                slots_cap;
    size_t                nslots;
};


/* AWS's quota: event 25,000 of a Standard execution is its ExecutionFailed */
#define SFN_MAX_HISTORY       25000


int sfn_output_catch(sfn_run_t *run, cJSON *o, const sfn_catcher_t *ct);
int sfn_slot_add(sfn_exec_t *e, uint64_t id, sfn_run_t *run, int kind);
void sfn_drain(sfn_exec_t *e);
int64_t sfn_exec_timeout_ms(const sfn_exec_t *e);
void sfn_run_free(sfn_run_t *run);
void sfn_resource_split(sfn_run_t *run);
sfn_run_t *sfn_run_new(sfn_exec_t *e, sfn_run_t *parent,
    const sfn_graph_t *g, cJSON *input, size_t index);


#endif /* _SFN_EXEC_H_INCLUDED_ */

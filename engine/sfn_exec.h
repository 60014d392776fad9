
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


/* the invocations of each mocked state, by the test case's entries */
typedef struct {
    unsigned              refs;
    unsigned              n[];
} sfn_mock_calls_t;


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
    sfn_payload_t        *shared;     /* input's box while events refer
                                         to it: immutable */
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
    cJSON                *items_own;  /* Map items not borrowed from eff */

    /* variables: this run's scope, and what the state assigns on exit */
    cJSON                *vars;
    size_t                vars_size;
    cJSON                *assigned;
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
    sfn_payload_t        *first_shared;

    const sfn_state_t    *redrive_state;    /* sfn_exec_redrive()'s */
    unsigned              redrive_count;    /* $$.Execution.RedriveCount */

    sfn_status_e          status;
    char                 *output;
    cJSON                *output_tree;  /* until output is printed */
    sfn_payload_t        *output_shared;
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
    unsigned              lazy_events:1;
    unsigned              now_read:1;

    int64_t               now;          /* the clock, read once per drain */
    int64_t               event_id;
    uint64_t              burst;
    uint64_t              next_id;
    uint64_t              exec_timer_id;

    sfn_slot_t           *slots;
    size_t                slots_cap;
    size_t                nslots;

    size_t                vars_size;    /* all scopes' variables */

    const sfn_mock_case_t  *mock;
    sfn_mock_calls_t     *mock_calls;   /* invocations of the mocked
                                           states, as mock has them;
                                           shared with a map run's
                                           children */
};


/* AWS's quota: event 25,000 of a Standard execution is its ExecutionFailed */
#define SFN_MAX_HISTORY       25000


/* sfn_exec.c: the stepper: waits by id, the ready queue, runs */
int sfn_slot_add(sfn_exec_t *e, uint64_t id, sfn_run_t *run, int kind);
sfn_slot_t *sfn_slot_find(sfn_exec_t *e, uint64_t id);
void sfn_slot_del(sfn_exec_t *e, uint64_t id);
void sfn_enqueue(sfn_run_t *run, int action);
sfn_run_t *sfn_run_new(sfn_exec_t *e, sfn_run_t *parent,
    const sfn_graph_t *g, cJSON *input, size_t index);
void sfn_run_unlink(sfn_run_t *run);
int sfn_run_failed(sfn_run_t *run);
void sfn_drain(sfn_exec_t *e);
int64_t sfn_exec_timeout_ms(const sfn_exec_t *e);
int64_t sfn_exec_now(sfn_exec_t *e);
void sfn_run_abort(sfn_run_t *run, int emit);
void sfn_run_free(sfn_run_t *run);
void sfn_run_replace_input(sfn_run_t *run, cJSON *input);
void sfn_run_replace_payload(sfn_run_t *run, sfn_payload_t *p);

/* sfn_mock.c: mocked task results */
int sfn_mock_share(sfn_exec_t *e, sfn_exec_t *parent);
void sfn_mock_release(sfn_exec_t *e);
int sfn_mock_next(sfn_run_t *run, const void **resp);
void sfn_mock_answer(sfn_exec_t *e, uint64_t id, const void *resp);
cJSON *sfn_mock_snapshot(const sfn_exec_t *e);
int sfn_mock_restore(sfn_exec_t *e, const cJSON *o);

/* sfn_history.c: history events */
int sfn_history_on(sfn_exec_t *e);
int64_t sfn_emit(sfn_exec_t *e, sfn_run_t *run, const char *type,
    cJSON *details);
int64_t sfn_emit_payload(sfn_exec_t *e, sfn_run_t *run, const char *type,
    const char *name, cJSON *payload, sfn_payload_t **shared,
    const cJSON *assigned);
cJSON *sfn_details(const char *field, cJSON **inner);
void sfn_details_payload(cJSON *inner, const char *name, const char *dname,
    const cJSON *v);
void sfn_emit_state(sfn_run_t *run, const char *suffix);
void sfn_emit_simple(sfn_run_t *run, const char *type);
void sfn_emit_error(sfn_exec_t *e, sfn_run_t *run, const char *type,
    const char *field, const char *error, const char *cause,
    const sfn_state_t *task);
void sfn_emit_iteration(sfn_run_t *parent, const char *type, size_t index);
void sfn_emit_activity(sfn_run_t *run, const char *what,
    const cJSON *payload, const char *worker);

/* sfn_io.c: input and output processing */
void sfn_random(void *data, void *buf, size_t len);
void sfn_inspect(sfn_run_t *run, const char *stage, const cJSON *v);
void sfn_env_init(sfn_env_t *env, sfn_run_t *run, const cJSON *input);
void sfn_env_done(sfn_env_t *env);
int sfn_io_check_size(sfn_run_t *run, const cJSON *v);
int sfn_io_input_path(sfn_run_t *run, sfn_env_t *env, cJSON **out,
    int *owned);
cJSON *sfn_io_own(cJSON *v, int owned);
int sfn_io_output(sfn_run_t *run, cJSON *result, int owned,
    const sfn_path_t *rp, int rp_null);
int sfn_io_effective(sfn_run_t *run);
int sfn_io_path_int(sfn_run_t *run, const sfn_path_t *p, const cJSON *input,
    const char *field, int64_t *out, double *dout);
int sfn_state_result(sfn_run_t *run, cJSON *res);
int sfn_io_output_catch(sfn_run_t *run, cJSON *o, const sfn_catcher_t *ct);

/* sfn_error.c: errors, Retry and Catch */
void sfn_runtime(sfn_run_t *run, const char *error, const char *fmt, ...);
void sfn_err_adopt(sfn_run_t *run, sfn_err_t *err);
int sfn_state_error(sfn_run_t *run);

/* sfn_state.c: the state types */
int sfn_transition(sfn_run_t *run, const sfn_state_t *next);
int sfn_state_pass(sfn_run_t *run);
int sfn_state_choice(sfn_run_t *run);
int sfn_state_succeed(sfn_run_t *run);
int sfn_state_fail(sfn_run_t *run);
int sfn_state_wait(sfn_run_t *run);
int sfn_state_wait_done(sfn_run_t *run);
int sfn_exec_task(sfn_run_t *run);
void sfn_exec_task_timers_cancel(sfn_run_t *run);
int sfn_exec_task_result(sfn_run_t *run);

/* sfn_vars.c: variables */
const cJSON *sfn_vars_get(sfn_run_t *run, const char *name, size_t len);
const cJSON *sfn_vars_env(sfn_env_t *env, const char *name, size_t len);
int sfn_vars_assign(sfn_run_t *run, const sfn_tmpl_t *t, const cJSON *input);
int sfn_vars_assign_query(sfn_run_t *run, const sfn_qtmpl_t *t,
    const cJSON *input, const cJSON *result, const cJSON *error_output);
int sfn_vars_set(sfn_run_t *run, cJSON *assigned);
void sfn_vars_commit(sfn_run_t *run);
void sfn_vars_free(sfn_run_t *run);
void sfn_state_exit(sfn_run_t *run);

/* sfn_query.c: JSONata in states */
cJSON *sfn_query_eval(sfn_run_t *run, const sfn_qtmpl_t *t,
    const cJSON *input, const cJSON *result, const cJSON *error_output);
void sfn_query_type_error(sfn_run_t *run, const sfn_qtmpl_t *t,
    const char *expected, const cJSON *v);
int sfn_query_output(sfn_run_t *run, cJSON *result,
    const cJSON *error_output, const sfn_qtmpl_t *assign,
    const sfn_qtmpl_t *output);
int sfn_query_int(sfn_run_t *run, const sfn_qtmpl_t *t, const char *field,
    int64_t min, int64_t max, int64_t *out, double *dout);

/* sfn_map.c: Parallel and Map */
void sfn_children_reset(sfn_run_t *run);
int sfn_parallel_start(sfn_run_t *run);
int sfn_map_start(sfn_run_t *run);
void sfn_child_done(sfn_run_t *kid, cJSON *output);
int sfn_children_check(sfn_run_t *run);
cJSON *sfn_map_items(sfn_run_t *run);

/* sfn_maprun.c: a distributed Map's map run */
int sfn_maprun_start(sfn_run_t *run, const cJSON *items);
int sfn_maprun_resume(sfn_run_t *run);
int sfn_maprun_result(sfn_run_t *run);


#endif /* _SFN_EXEC_H_INCLUDED_ */

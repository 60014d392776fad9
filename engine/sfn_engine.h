
/*
 * Copyright (C) ngx_sfn authors
 *
 * The public interface of the ASL engine.
 *
 * The engine is a plain C library: no nginx, libpq or libav headers, no I/O,
 * no blocking and no global mutable state.  A compiled state machine
 * (sfn_machine_t) is read-only after sfn_machine_load() and may be shared by
 * any number of executions.  An execution (sfn_exec_t) is stepped by one
 * thread at a time: the host feeds it events (start, task result, task error,
 * timer fired, heartbeat, stop) and the engine answers through the host
 * callbacks with effects (run a task, arm or cancel a timer, record a history
 * event).  Everything nondeterministic (clock, randomness, task tokens) comes
 * from the host, so recorded events replay to the same state.
 *
 * JSON values are cJSON trees.  Unless stated otherwise a cJSON pointer
 * passed to a callback is borrowed for the duration of the call only.
 */

#ifndef _SFN_ENGINE_H_INCLUDED_
#define _SFN_ENGINE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>


#define SFN_OK            0
#define SFN_ERROR        -1
#define SFN_AGAIN        -2
#define SFN_DECLINED     -5


#define SFN_MAX_PAYLOAD   262144


typedef enum {
    SFN_STANDARD = 0,
    SFN_EXPRESS
} sfn_type_e;


typedef enum {
    SFN_RUNNING = 0,
    SFN_SUCCEEDED,
    SFN_FAILED,
    SFN_TIMED_OUT,
    SFN_ABORTED
} sfn_status_e;


typedef struct sfn_machine_s  sfn_machine_t;
typedef struct sfn_exec_s     sfn_exec_t;
typedef struct sfn_payload_s  sfn_payload_t;
typedef struct sfn_mock_case_s  sfn_mock_case_t;


/*
 * A definition problem, as ValidateStateMachineDefinition reports it:
 * code is AWS's ("SCHEMA_VALIDATION_FAILED", "INVALID_JSON_DESCRIPTION",
 * "MISSING_TRANSITION_TARGET", ...), state the offending state's name or "",
 * location a JSON pointer-like path ("/States/Probe/Next").
 */
typedef struct {
    char                  code[64];
    char                  state[256];
    char                  location[512];
    char                  message[1024];
} sfn_diag_t;


/*
 * Called while loading for every Task "Resource"; returns non-zero when the
 * host can run it.  NULL accepts every resource.
 */
typedef int (*sfn_resource_known_pt)(void *data, const char *resource);


/*
 * Parses and validates a definition (JSON text of len bytes, not necessarily
 * NUL-terminated).  Returns NULL and fills diag on failure.  The machine owns
 * all its memory; free it with sfn_machine_free().
 */
sfn_machine_t *sfn_machine_load(const char *json, size_t len,
    sfn_resource_known_pt known, void *data, sfn_diag_t *diag);

/*
 * The same, but a definition that fails fills up to max diagnostics, as
 * ValidateStateMachineDefinition lists them: one for every failed state
 * (nested ones included), or every missing transition target, or every
 * unreachable state; *ndiag says how many.
 */
sfn_machine_t *sfn_machine_load_all(const char *json, size_t len,
    sfn_resource_known_pt known, void *data, sfn_diag_t *diag, size_t max,
    size_t *ndiag);
void sfn_machine_free(sfn_machine_t *m);

/*
 * The WARNING diagnostics of a definition (JSON text of len bytes): fills
 * up to max of them and returns how many there are (none when the text is
 * not JSON)
 */
size_t sfn_machine_lint(const char *json, size_t len, sfn_diag_t *diag,
    size_t max);

/*
 * 1 when resource is an activity's ARN,
 * arn:aws:states:<region>:<account>:activity:<name>; such a Task's events
 * are Activity* ones, and Express state machines reject it
 */
int sfn_resource_activity(const char *resource);

/* the top-level "TimeoutSeconds", 0 when absent */
int64_t sfn_machine_timeout_ms(const sfn_machine_t *m);

/* calls cb for every distinct Task resource of the machine, nested included */
void sfn_machine_resources(const sfn_machine_t *m,
    void (*cb)(void *data, const char *resource), void *data);

/*
 * Checks what depends on the state machine type: Express machines reject
 * ".sync" and ".waitForTaskToken" resources.  Returns SFN_OK, or
 * SFN_ERROR and fills diag.
 */
int sfn_machine_check_type(const sfn_machine_t *m, sfn_type_e type,
    sfn_diag_t *diag);


/* a task the host must run */
typedef struct {
    uint64_t              id;           /* unique within the execution */
    const char           *state;        /* the Task state's name */
    const char           *resource;     /* as written in the definition */
    const cJSON          *input;        /* effective input (after Parameters) */
    const char           *token;        /* $$.Task.Token, NULL unless
                                           .waitForTaskToken */
    int64_t               timeout_ms;   /* informational; the engine arms */
    int64_t               heartbeat_ms; /* its own timers for both */
    unsigned              attempt;      /* 0 for the first, then retries */
} sfn_task_req_t;


/* a history event, AWS GetExecutionHistory shape */
typedef struct {
    int64_t               id;
    int64_t               previous_id;
    int64_t               timestamp_ms;
    const char           *type;         /* "TaskStateEntered", ... */
    const cJSON          *details;      /* {"stateEnteredEventDetails":{..}}
                                           object whose single member is
                                           AWS's details field, or NULL */

    /*
     * With sfn_exec_conf_t.lazy_events, state entered and exited events,
     * Map iteration events, ExecutionStarted and ExecutionSucceeded come
     * with details NULL and what they are made of instead, valid during
     * the callback only: formatting is left to the host that writes them,
     * through sfn_event_details().  Without it, details is built from
     * these.
     */
    const char           *name;         /* the state's name */
    const char           *role_arn;     /* ExecutionStarted */
    const cJSON          *payload;      /* the input or output */
    size_t                index;        /* MapIteration*: the iteration */
    sfn_payload_t        *shared;       /* payload's box: sfn_event_hold() */

    /*
     * StateExited of a state with Assign: the variables it assigned, an
     * object of name to value.  Such an event comes with its details
     * built, lazy_events or not.
     */
    const cJSON          *assigned;
} sfn_event_t;


/* ev's AWS details object, built (the caller frees it), or NULL */
cJSON *sfn_event_details(const sfn_event_t *ev);

/*
 * Keeping a lazy event beyond the callback.  Its payload is shared with
 * the execution, never copied: sfn_event_hold() returns a reference to it
 * (NULL when the event has none), immutable from then on and valid until
 * sfn_payload_release(), even after sfn_exec_free().  A kept copy of the
 * event with payload set to sfn_payload_json() formats with
 * sfn_event_details() as long as the machine (the state names) and, for
 * ExecutionStarted, the execution (role_arn) are alive.
 */
sfn_payload_t *sfn_event_hold(const sfn_event_t *ev);
const cJSON *sfn_payload_json(const sfn_payload_t *p);
void sfn_payload_release(sfn_payload_t *p);


/*
 * A distributed Map's map run, for the host to run (sfn_host_t.map_run).
 * Everything the state's fields evaluate to is resolved: the host reads
 * items (items, or reader), makes each child's input with
 * sfn_exec_map_item(), runs the children as executions of processor and
 * answers with sfn_exec_map_run_succeeded() or sfn_exec_map_run_failed().
 * The pointers are borrowed until that answer, or cancel_task(id).
 */
typedef struct {
    uint64_t              id;
    const char           *state;        /* the Map state's name */
    const char           *label;        /* Label, or the state's name */
    const char           *processor;    /* ItemProcessor as a definition,
                                           JSON text */
    sfn_type_e            type;         /* ProcessorConfig.ExecutionType */
    const cJSON          *items;        /* an array, or NULL with reader */
    const cJSON          *reader;       /* {"Resource", "Parameters",
                                           "ReaderConfig"}, evaluated */
    const cJSON          *writer;       /* {"Resource", "Parameters",
                                           "WriterConfig"}, or NULL */
    const cJSON          *batch_input;  /* ItemBatcher's BatchInput */
    int64_t               batch_items;  /* MaxItemsPerBatch, 0: none */
    int64_t               batch_bytes;  /* MaxInputBytesPerBatch */
    int64_t               max_concurrency;  /* 0: no limit */
    int64_t               tolerated_count;  /* -1: unset */
    double                tolerated_pct;    /* -1: unset */
    unsigned              batching:1;
    unsigned              resumed:1;    /* asked again by sfn_exec_restore */
} sfn_map_req_t;


typedef struct {
    void                 *data;

    /* wall clock, milliseconds since the epoch */
    int64_t  (*now_ms)(void *data);

    /* fills buf with len random bytes (UUIDs, MathRandom, task tokens) */
    void     (*random)(void *data, void *buf, size_t len);

    /*
     * Run a task.  The host answers later with sfn_exec_task_succeeded() or
     * sfn_exec_task_failed(), possibly from inside this call.  Returning
     * SFN_ERROR fails the task with States.TaskFailed at once.
     */
    int      (*run_task)(void *data, sfn_exec_t *e, const sfn_task_req_t *t);

    /* the engine no longer wants the result of task id (timeout, stop) */
    void     (*cancel_task)(void *data, sfn_exec_t *e, uint64_t id);

    /* call sfn_exec_timer() for id at due_ms; re-arming an id replaces it */
    int      (*arm_timer)(void *data, sfn_exec_t *e, uint64_t id,
                          int64_t due_ms);
    void     (*cancel_timer)(void *data, sfn_exec_t *e, uint64_t id);

    /* a history event; may be NULL */
    void     (*event)(void *data, sfn_exec_t *e, const sfn_event_t *ev);

    /* the execution reached a terminal status; may be NULL */
    void     (*finished)(void *data, sfn_exec_t *e);

    /* level: 0 error, 1 warn, 2 info, 3 debug; may be NULL */
    void     (*log)(void *data, int level, const char *msg);

    /*
     * Asked after each transition the engine runs without the host: a
     * nonzero answer makes it hand the host its loop back through a timer
     * due at once, and go on when that fires.  May be NULL: the engine
     * then yields every SFN_BURST transitions.
     */
    int      (*yield)(void *data);

    /*
     * What a state's input and output processing made, for TestState:
     * stage is "afterInputPath", "afterParameters", "result",
     * "afterResultSelector" or "afterResultPath".  May be NULL.
     */
    void     (*inspect)(void *data, sfn_exec_t *e, const char *stage,
                        const cJSON *v);

    /*
     * Start (or, resumed, find again) a distributed Map's map run: fill
     * arn (size bytes) with its ARN and answer later, never from inside
     * this call.  May be NULL: such Maps then run inline.  SFN_ERROR
     * fails the state with States.Runtime.  cancel_task(id) stops it.
     * A count above 0: the map run of a redriven execution, redriven
     * again (MapRunRedriven, that count), rather than a new one.
     */
    int      (*map_run)(void *data, sfn_exec_t *e, const sfn_map_req_t *r,
                        char *arn, size_t size);
} sfn_host_t;


/* identity of an execution, copied by sfn_exec_create() */
typedef struct {
    const char           *name;              /* $$.Execution.Name */
    const char           *arn;               /* $$.Execution.Id */
    const char           *role_arn;          /* $$.Execution.RoleArn */
    const char           *state_machine_name;
    const char           *state_machine_arn;
    const char           *redrive_status;    /* NULL: "NOT_REDRIVABLE" */
    sfn_type_e            type;
    int64_t               start_ms;          /* 0: host now_ms() */

    /*
     * The test case whose mocked responses stand for the tasks of the
     * states it names (sfn_mock_case()), or NULL.  Such a task never
     * reaches run_task(): its result or its error is answered from the
     * engine, with the events of a real one.  It must outlive the
     * execution.
     */
    const sfn_mock_case_t  *mock;

    /*
     * A distributed Map's child: the execution whose map run starts it.
     * The child runs the parent's test case (mock is then ignored) and
     * counts the invocations of its mocked states with the parent's, as
     * Step Functions Local counts those of a Map's iterations over the
     * whole execution.  The counts are shared, not the execution: either
     * may be freed first.
     */
    sfn_exec_t             *mock_parent;
    unsigned              lazy_events:1;     /* events refer to their
                                                payloads, unformatted:
                                                see sfn_event_t */
} sfn_exec_conf_t;


/*
 * Creates an execution of m with input (JSON text).  Returns NULL and sets
 * error and cause (static strings) when the input is not valid JSON or too
 * large.  m must outlive the execution.
 */
sfn_exec_t *sfn_exec_create(const sfn_machine_t *m, const sfn_host_t *host,
    const sfn_exec_conf_t *conf, const char *input, size_t len,
    const char **error, const char **cause);
void sfn_exec_free(sfn_exec_t *e);

void *sfn_exec_get_data(const sfn_exec_t *e);
void sfn_exec_set_data(sfn_exec_t *e, void *data);

/*
 * Events.  Each runs the execution as far as it can go without the host
 * and returns its status (SFN_RUNNING while it waits for a task or timer).
 * Events for unknown or stale ids are ignored.
 */
sfn_status_e sfn_exec_start(sfn_exec_t *e);
sfn_status_e sfn_exec_task_succeeded(sfn_exec_t *e, uint64_t id,
    const char *output, size_t len);
sfn_status_e sfn_exec_task_failed(sfn_exec_t *e, uint64_t id,
    const char *error, const char *cause);
sfn_status_e sfn_exec_task_heartbeat(sfn_exec_t *e, uint64_t id);

/*
 * Activities: the task was taken by a worker (ActivityStarted, and a
 * heartbeat), or could not be scheduled (ActivityScheduleFailed, then
 * as a failure).  A task of another kind ignores the first and takes the
 * second as TaskStartFailed.
 */
sfn_status_e sfn_exec_task_started(sfn_exec_t *e, uint64_t id,
    const char *worker);
sfn_status_e sfn_exec_task_refused(sfn_exec_t *e, uint64_t id,
    const char *error, const char *cause);
sfn_status_e sfn_exec_timer(sfn_exec_t *e, uint64_t id);

/*
 * A map run's children: the input of the child for item (or a batch,
 * {"Items": [...], "BatchInput": ...}) at index, after ItemSelector.
 * Takes item; returns a tree the caller frees, or NULL with *error and
 * *cause (malloc'd, the caller frees them) when ItemSelector failed.
 * sfn_exec_map_run_succeeded() takes the state's result as JSON text (the
 * children's outputs, or ResultWriter's details); failed ends the state
 * with error and cause (States.ExceedToleratedFailureThreshold,
 * States.ItemReaderFailed, ...), subject to Retry and Catch.
 */
cJSON *sfn_exec_map_item(sfn_exec_t *e, uint64_t id, cJSON *item,
    size_t index, char **error, char **cause);
sfn_status_e sfn_exec_map_run_succeeded(sfn_exec_t *e, uint64_t id,
    const char *output, size_t len);
sfn_status_e sfn_exec_map_run_failed(sfn_exec_t *e, uint64_t id,
    const char *error, const char *cause);
sfn_status_e sfn_exec_stop(sfn_exec_t *e, const char *error,
    const char *cause);

sfn_status_e sfn_exec_status(const sfn_exec_t *e);

/* the name of the state the execution (its main branch) is in, or NULL */
const char *sfn_exec_current_state(const sfn_exec_t *e);

/*
 * Results of a finished execution, owned by e: output as JSON text (NULL
 * unless SUCCEEDED), error and cause (NULL when absent).
 */
const char *sfn_exec_output(const sfn_exec_t *e);
const char *sfn_exec_error(const sfn_exec_t *e);
const char *sfn_exec_cause(const sfn_exec_t *e);

const char *sfn_status_name(sfn_status_e status);

/* 1 when text is UTF-8 (RFC 3629: no overlong form, no surrogate) */
int sfn_utf8_valid(const char *text, size_t len);


/*
 * The engine's JSON codec, for hosts that must pass JSON through as the
 * engine sees it.  sfn_json_parse() takes strict RFC 8259 JSON of len bytes
 * (not necessarily NUL-terminated): UTF-8 only, no raw control character
 * in a string, nothing but white space after the value; otherwise NULL.
 * An escaped NUL ("\u0000") in a string or member name is kept as the two
 * bytes C0 80, never as a NUL, so no cJSON string ends early; such a
 * string is not valid UTF-8 for sfn_utf8_valid().  Free the tree with
 * cJSON_Delete().  sfn_json_print() writes a tree compactly as the engine
 * does, C0 80 back as "\u0000": the text is malloc'd (free() it), NULL
 * when out of memory.  cJSON's own printer would write C0 80 as it is.
 */
cJSON *sfn_json_parse(const char *text, size_t len);
char *sfn_json_print(const cJSON *v);


/*
 * sfn_exec_redrive() creates again an execution that ended FAILED,
 * TIMED_OUT or ABORTED (RedriveExecution), to go on from the top-level
 * state that ended it, state, with the raw input that state was entered
 * with (state_input, JSON text); input is the execution's own, for
 * $$.Execution.Input.  Its events go on after event_id, the last one
 * recorded: sfn_exec_start() then emits ExecutionRedriven (redriveCount:
 * redrive_count, also $$.Execution.RedriveCount) and enters state.  The
 * execution's timeout is not armed again.  NULL with *error and *cause
 * when state is not a top-level state of m or an input is not JSON.
 */
sfn_exec_t *sfn_exec_redrive(const sfn_machine_t *m, const sfn_host_t *host,
    const sfn_exec_conf_t *conf, const char *input, size_t len,
    const char *state, const char *state_input, size_t state_len,
    int64_t event_id, unsigned redrive_count, const char **error,
    const char **cause);


/*
 * Durable executions.
 *
 * sfn_exec_snapshot() returns the whole state of an execution as JSON text
 * (malloc'd; the caller frees it): its identity and input, the run tree
 * (current states, payloads, retry counters, Parallel/Map progress), and
 * every outstanding task and timer with its id and due time.  Call it
 * between events, never from inside a host callback (it returns NULL
 * then, or when out of memory).  Terminal executions snapshot too.
 *
 * sfn_exec_restore() recreates that execution for the same machine m
 * (m must be the same definition) with host, and before returning asks the
 * host again for everything that was outstanding, with the same ids:
 * arm_timer(id, due) for each Wait, retry back-off, TimeoutSeconds,
 * HeartbeatSeconds and top-level timeout timer (due times in the past fire
 * as soon as the host runs them), and run_task() for each task that was in
 * flight: task attempts are at-least-once, the same token is passed again.
 * No history event is emitted; event ids continue where they stopped.
 * mock is the execution's test case, as sfn_exec_conf_t has it: the
 * snapshot keeps the invocations its states have had.
 * Returns NULL when json is not a snapshot of m.  The execution is then
 * driven by the usual sfn_exec_*() events.
 *
 * sfn_exec_free() cancels (cancel_task, cancel_timer) whatever a running
 * execution still waits for.
 */
char *sfn_exec_snapshot(const sfn_exec_t *e);
sfn_exec_t *sfn_exec_restore(const sfn_machine_t *m, const sfn_host_t *host,
    const sfn_mock_case_t *mock, const char *json, size_t len);


/*
 * Mocked task results: Step Functions Local's mock configuration
 * (MockConfigFile.json).  "StateMachines" names state machines, each with
 * "TestCases" mapping Task state names to the names of "MockedResponses";
 * a mocked response answers each invocation of the state ("0", "1-2",
 * ...) with {"Return": result} or {"Throw": {"Error", "Cause"}}.
 * Invocations are counted per state over the execution, retries and Map
 * iterations included; one past the last answered fails the execution
 * with States.Runtime.
 *
 * sfn_mock_load() parses and checks a whole file (JSON text of len bytes):
 * NULL, with the reason in err, when anything in it is wrong.  The test
 * cases it returns live as long as it does.
 *
 * sfn_mock_case() finds a test case of a state machine by name (NULL
 * when absent; *known, if given, tells whether the file has the machine).
 * sfn_mock_check() checks it against a machine: every state it names must
 * be one of its Task states, nested ones included; sfn_mock_check_machine()
 * checks every test case the file has for the machine.  Both return SFN_OK
 * or SFN_ERROR with the reason in err.  sfn_exec_mock_case() is the test
 * case an execution runs, or NULL.
 */
typedef struct sfn_mock_s  sfn_mock_t;

sfn_mock_t *sfn_mock_load(const char *json, size_t len, char *err,
    size_t size);
void sfn_mock_free(sfn_mock_t *mk);
const sfn_mock_case_t *sfn_mock_case(const sfn_mock_t *mk,
    const char *machine, const char *name, int *known);
const char *sfn_mock_case_name(const sfn_mock_case_t *c);
int sfn_mock_check(const sfn_mock_case_t *c, const sfn_machine_t *m,
    char *err, size_t size);
int sfn_mock_check_machine(const sfn_mock_t *mk, const char *machine,
    const sfn_machine_t *m, char *err, size_t size);
const sfn_mock_case_t *sfn_exec_mock_case(const sfn_exec_t *e);


#endif /* _SFN_ENGINE_H_INCLUDED_ */

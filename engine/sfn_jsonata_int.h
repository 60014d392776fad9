
/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata internals shared by sfn_jsonata_*.c: values, the syntax tree,
 * the evaluation context and the helpers between the lexer, the parser,
 * the evaluator and the function library.
 *
 * Every value and node lives in an arena: the program's for the tree and
 * its literals, the evaluation's for everything evaluation makes.  An
 * error unwinds to sfn_jsonata_eval() with longjmp(); the arena is then
 * dropped whole, so no error path can leak.
 */

#ifndef _SFN_JSONATA_INT_H_INCLUDED_
#define _SFN_JSONATA_INT_H_INCLUDED_


#include <setjmp.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "sfn_core.h"
#include "sfn_jsonata.h"


typedef struct sfn_jv_s     sfn_jv_t;
typedef struct sfn_jnode_s  sfn_jnode_t;
typedef struct sfn_jfn_s    sfn_jfn_t;
typedef struct sfn_jenv_s   sfn_jenv_t;
typedef struct sfn_jctx_s   sfn_jctx_t;


/* the steps between two looks at the clock */
#define SFN_JTICKS  256


/* values; NULL is "undefined" */

enum {
    SFN_JV_NULL = 0,
    SFN_JV_BOOL,
    SFN_JV_NUMBER,
    SFN_JV_STRING,
    SFN_JV_ARRAY,
    SFN_JV_OBJECT,
    SFN_JV_FUNCTION
};

/* array flags, jsonata-js's properties of its sequences */
#define SFN_JV_SEQ      0x01
#define SFN_JV_KEEP     0x02      /* keepSingleton */
#define SFN_JV_OUTER    0x04      /* outerWrapper */
#define SFN_JV_TUPLE    0x08      /* tupleStream */
#define SFN_JV_CONS     0x10      /* an array constructor's */


/*
 * An array or object read from the host's lend tree (see
 * sfn_jsonata_host_t) keeps the list of nodes it was read from, and
 * whether those are the tree's own (SFN_JSONATA_LENT_OWN) or nodes it
 * refers to (SFN_JSONATA_LENT_HELD): the output then refers to them.
 * Values read from JSON are never changed, only copied.
 */
typedef struct {
    sfn_jv_t            **v;
    size_t                n;
    size_t                cap;
    const cJSON          *child;
    unsigned              lent;
} sfn_jarr_t;


typedef struct {
    sfn_str_t            *k;
    sfn_jv_t            **v;
    size_t                n;
    size_t                cap;
    const cJSON          *child;
    unsigned              lent;
} sfn_jobj_t;


struct sfn_jv_s {
    uint8_t               type;
    uint8_t               flags;
    union {
        int               b;
        double            n;
        sfn_str_t         s;
        sfn_jarr_t       *a;
        sfn_jobj_t       *o;
        sfn_jfn_t        *f;
    } u;
};


/* the syntax tree */

enum {
    SFN_JN_PATH = 1,
    SFN_JN_BINARY,
    SFN_JN_UNARY,          /* "-" */
    SFN_JN_ARRAY,          /* "[" constructor */
    SFN_JN_OBJECT,         /* "{" constructor, or grouping before post-parse */
    SFN_JN_NAME,
    SFN_JN_STRING,
    SFN_JN_NUMBER,
    SFN_JN_VALUE,          /* true false null */
    SFN_JN_WILDCARD,
    SFN_JN_DESCENDANT,
    SFN_JN_PARENT,
    SFN_JN_CONDITION,
    SFN_JN_BLOCK,
    SFN_JN_BIND,
    SFN_JN_REGEX,
    SFN_JN_FUNCTION,
    SFN_JN_PARTIAL,
    SFN_JN_VARIABLE,
    SFN_JN_LAMBDA,
    SFN_JN_APPLY,
    SFN_JN_TRANSFORM,
    SFN_JN_SORT,
    SFN_JN_PLACEHOLDER,    /* "?" in a partial application */
    SFN_JN_OPERATOR,       /* an operator token used as a name: and, or, in */
    SFN_JN_END
};

/* stages of a step */
enum {
    SFN_JS_FILTER = 1,
    SFN_JS_INDEX
};


typedef struct {
    sfn_str_t             label;
    int                   level;
    int                   index;
} sfn_jslot_t;


typedef struct {
    int                   type;
    sfn_jnode_t          *expr;       /* filter */
    sfn_str_t             name;       /* index variable */
    size_t                position;
} sfn_jstage_t;


typedef struct {
    sfn_jnode_t          *key;
    sfn_jnode_t          *value;
} sfn_jpair_t;


typedef struct {
    sfn_jnode_t          *expr;
    int                   descending;
} sfn_jterm_t;


typedef struct {
    char                  set[12];    /* accepted type letters, 'm' too */
    char                  type;       /* 'a', 'f', ... or '(' for a choice */
    char                  quant;      /* 0, '?', '+' */
    unsigned              context:1;  /* '-': the context when missing */
    sfn_str_t             subtype;    /* a<n>: "n" */
} sfn_jparam_t;


typedef struct {
    sfn_jparam_t         *params;
    int                   n;
    const char           *text;
} sfn_jsig_t;


typedef struct {
    void                **v;
    size_t                n;
    size_t                cap;
} sfn_jlist_t;


struct sfn_jnode_s {
    int                   type;
    size_t                position;
    sfn_str_t             str;        /* name, string, variable, operator */
    double                num;
    sfn_jv_t             *value;      /* literal */

    sfn_jnode_t          *lhs;
    sfn_jnode_t          *rhs;
    sfn_jnode_t          *expr;       /* unary "-" */

    sfn_jlist_t           items;      /* steps, array items, block, args,
                                         lambda params */
    sfn_jlist_t           pairs;      /* object constructor: sfn_jpair_t */
    sfn_jlist_t           terms;      /* sort / order-by: sfn_jterm_t */

    sfn_jnode_t          *procedure;
    sfn_jnode_t          *body;
    sfn_jnode_t          *cond;
    sfn_jnode_t          *then;
    sfn_jnode_t          *els;
    sfn_jnode_t          *pattern;
    sfn_jnode_t          *update;
    sfn_jnode_t          *del;

    sfn_jlist_t           predicate;  /* sfn_jstage_t (filters) */
    sfn_jlist_t           stages;     /* sfn_jstage_t */
    sfn_jlist_t          *group;      /* sfn_jpair_t */
    size_t                group_pos;

    const char           *name;       /* a call's procedure, an operator:
                                         the token errors name */
    sfn_str_t             focus;      /* @$v */
    sfn_str_t             index;      /* #$v */
    sfn_jslot_t          *ancestor;
    sfn_jslot_t          *slot;       /* parent */
    sfn_jlist_t          *seeking;    /* sfn_jslot_t *, seekingParent */
    sfn_jsig_t           *signature;
    pcre2_code           *re;

    unsigned              keep_array:1;
    unsigned              cons_array:1;
    unsigned              keep_singleton:1;
    unsigned              tuple:1;
    unsigned              thunk:1;
    unsigned              has_focus:1;
    unsigned              has_index:1;
    unsigned              has_else:1;
    unsigned              has_predicate:1;
    unsigned              has_stages:1;
};


/* functions */

enum {
    SFN_JF_LAMBDA = 1,
    SFN_JF_NATIVE,
    SFN_JF_PARTIAL,
    SFN_JF_REGEX,
    SFN_JF_TRANSFORM,
    SFN_JF_CHAIN,
    SFN_JF_NEXT            /* the next match of a regex */
};


typedef sfn_jv_t *(*sfn_jnative_pt)(sfn_jctx_t *ctx, sfn_jv_t **args,
    int nargs, sfn_jv_t *input, sfn_jenv_t *env);


typedef struct {
    const char           *name;
    const char           *signature;
    sfn_jnative_pt        handler;
    int                   arity;      /* jsonata-js's function.length */
    sfn_jsig_t           *sig;        /* parsed on first use */
} sfn_jbuiltin_t;


struct sfn_jfn_s {
    int                   kind;
    int                   arity;
    sfn_jsig_t           *sig;

    /* lambda: node holds params and body; transform: the transform node */
    sfn_jnode_t          *node;
    sfn_jv_t             *input;
    sfn_jenv_t           *env;
    unsigned              thunk:1;

    sfn_jbuiltin_t       *builtin;

    /* partial application: args with NULL holes; chain: f then g */
    sfn_jv_t             *target;
    sfn_jv_t            **args;
    unsigned char        *hole;
    int                   nargs;
    sfn_jv_t             *g;

    /* regex; its next match: the subject and where to search from */
    pcre2_code           *re;
    sfn_jv_t             *subject;
    size_t                last;
};


struct sfn_jenv_s {
    sfn_jenv_t           *parent;
    sfn_str_t            *names;
    sfn_jv_t            **values;
    size_t                n;
    size_t                cap;
};


struct sfn_jctx_s {
    sfn_pool_t           *pool;
    jmp_buf              *jmp;
    sfn_jsonata_error_t  *err;

    /* error inserts */
    const char           *code;
    sfn_jv_t             *value;
    sfn_jv_t             *value2;
    const char           *token;
    int                   index;
    const char           *message;
    const char           *type;
    size_t                position;

    int                   depth;
    int                   max_depth;
    size_t                memory;       /* allocated so far */
    size_t                max_memory;
    int64_t               deadline;     /* ms, monotonic; 0: none */
    unsigned              ticks;        /* steps to the next look at the
                                           clock and the budget */
    int64_t               steps;        /* counted at each tick */
    int64_t               max_steps;    /* 0: none */
    size_t                memory0;      /* memory when the evaluation
                                           began */
    int64_t               now;          /* ms since epoch */
    sfn_jenv_t           *root;         /* the builtins and $$ */
    pcre2_general_context  *gctx;
    pcre2_match_context  *mctx;
    uint64_t              seed;
    sfn_jsonata_host_t   *host;
};


/* sfn_jsonata_value.c */

extern sfn_jv_t  sfn_jv_true;
extern sfn_jv_t  sfn_jv_false;
extern sfn_jv_t  sfn_jv_null;

sfn_jv_t *sfn_jv_number(sfn_jctx_t *ctx, double n);
sfn_jv_t *sfn_jv_string(sfn_jctx_t *ctx, const char *s, size_t len);
sfn_jv_t *sfn_jv_strz(sfn_jctx_t *ctx, const char *s);
sfn_jv_t *sfn_jv_bool(int b);
sfn_jv_t *sfn_jv_array(sfn_jctx_t *ctx, int flags);
sfn_jv_t *sfn_jv_object(sfn_jctx_t *ctx);
sfn_jv_t *sfn_jv_func(sfn_jctx_t *ctx, sfn_jfn_t *f);
void sfn_jv_push(sfn_jctx_t *ctx, sfn_jv_t *a, sfn_jv_t *v);
sfn_jv_t *sfn_jv_get(const sfn_jv_t *o, const char *k, size_t len);
void sfn_jv_set(sfn_jctx_t *ctx, sfn_jv_t *o, const char *k, size_t len,
    sfn_jv_t *v);
void sfn_jv_del(sfn_jv_t *o, const char *k, size_t len);
sfn_jv_t *sfn_jv_seq1(sfn_jctx_t *ctx, sfn_jv_t *v);
sfn_jv_t *sfn_jv_append(sfn_jctx_t *ctx, sfn_jv_t *a, sfn_jv_t *b);
int sfn_jv_is_array(const sfn_jv_t *v);
int sfn_jv_is_seq(const sfn_jv_t *v);
int sfn_jv_is_func(const sfn_jv_t *v);
int sfn_jv_is_numeric(sfn_jctx_t *ctx, const sfn_jv_t *v);
int sfn_jv_deep_equal(const sfn_jv_t *a, const sfn_jv_t *b);
int sfn_jv_boolean(sfn_jctx_t *ctx, const sfn_jv_t *v);   /* -1 undefined */
sfn_jv_t *sfn_jv_from_json(sfn_jctx_t *ctx, const cJSON *j);
/* the same, its strings borrowed from j, which must outlive the values */
sfn_jv_t *sfn_jv_from_json_ref(sfn_jctx_t *ctx, const cJSON *j);
cJSON *sfn_jv_to_json(const sfn_jv_t *v);
cJSON *sfn_jv_to_json_pool(const sfn_jv_t *v, sfn_pool_t *pool,
    unsigned *lent);
void *sfn_jalloc(sfn_jctx_t *ctx, size_t size);
void sfn_jbudget(sfn_jctx_t *ctx);

/* a step of work outside evaluate(): a comparison, an item visited */
#define sfn_jstep(ctx)                                                      \
    if (--(ctx)->ticks == 0) sfn_jtick(ctx)

void sfn_jtick(sfn_jctx_t *ctx);
void sfn_jlist_push(sfn_pool_t *pool, sfn_jlist_t *l, void *p);

/*
 * A string built in the evaluation's arena: nothing to free when an error
 * unwinds through it.
 */
typedef struct {
    sfn_jctx_t           *ctx;
    char                 *data;
    size_t                len;
    size_t                cap;
} sfn_jsb_t;

void sfn_jsb_init(sfn_jctx_t *ctx, sfn_jsb_t *b);
void sfn_jsb_add(sfn_jsb_t *b, const char *s, size_t len);
void sfn_jsb_adds(sfn_jsb_t *b, const char *s);
void sfn_jsb_addc(sfn_jsb_t *b, char c);
void sfn_jsb_printf(sfn_jsb_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
sfn_jv_t *sfn_jsb_value(sfn_jsb_t *b);

/* JavaScript's Number.prototype.toString(); buf >= 32 bytes */
size_t sfn_js_number(double d, char *buf);
/* JSON.stringify with $string's 15 significant digits; indent 0 or 2 */
void sfn_jv_stringify(sfn_jctx_t *ctx, sfn_buf_t *b, const sfn_jv_t *v,
    int indent, int full);
sfn_jv_t *sfn_jv_to_string(sfn_jctx_t *ctx, sfn_jv_t *v, int pretty);

/* UTF-8 code points */
size_t sfn_utf8_decode(const char *s, size_t len, uint32_t *out);
size_t sfn_utf8_encode(uint32_t c, char *out);
size_t sfn_utf8_offset(const char *s, size_t len, size_t chars);

void sfn_jthrow(sfn_jctx_t *ctx, const char *code) __attribute__((noreturn));
pcre2_general_context *sfn_jpcre(sfn_jctx_t *ctx);
void sfn_jthrow_v(sfn_jctx_t *ctx, const char *code, sfn_jv_t *value)
    __attribute__((noreturn));
void sfn_jerror_message(sfn_jctx_t *ctx, sfn_buf_t *b);


/* sfn_jsonata_lex.c */

enum {
    SFN_JT_END = 0,
    SFN_JT_NAME,
    SFN_JT_VARIABLE,
    SFN_JT_OPERATOR,
    SFN_JT_STRING,
    SFN_JT_NUMBER,
    SFN_JT_VALUE,
    SFN_JT_REGEX
};

typedef struct {
    int                   type;
    sfn_str_t             str;        /* name, string, operator, regex body */
    sfn_str_t             flags;      /* regex */
    double                num;
    int                   value;      /* SFN_JV_NULL / true 1 / false 0 */
    size_t                position;
} sfn_jtoken_t;

typedef struct {
    const char           *src;
    size_t                len;
    size_t                pos;
    sfn_pool_t           *pool;
    char                  code[8];
    size_t                err_pos;
    const char           *err_token;
    size_t                err_tlen;
} sfn_jlexer_t;

int sfn_jsonata_lex(sfn_jlexer_t *lx, int prefix, sfn_jtoken_t *t);


/* sfn_jsonata_parse.c */

typedef struct {
    char                  code[8];
    size_t                position;
    char                  token[64];
    char                  value[64];
} sfn_jperr_t;

/* regexes collects the compiled regex literals, the caller frees them */
sfn_jnode_t *sfn_jsonata_parse(sfn_pool_t *pool, const char *text,
    size_t len, sfn_jlist_t *regexes, sfn_jperr_t *err);
sfn_jsig_t *sfn_jsonata_signature(sfn_pool_t *pool, const char *text,
    size_t len, char *code, size_t *offset);


/* sfn_jsonata_eval.c */

sfn_jv_t *sfn_jeval(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env);
sfn_jv_t *sfn_japply(sfn_jctx_t *ctx, sfn_jv_t *proc, sfn_jv_t **args,
    int nargs, sfn_jv_t *input, sfn_jenv_t *env);
sfn_jenv_t *sfn_jenv_new(sfn_jctx_t *ctx, sfn_jenv_t *parent);
void sfn_jenv_bind(sfn_jctx_t *ctx, sfn_jenv_t *env, const char *name,
    size_t len, sfn_jv_t *v);
sfn_jv_t *sfn_jenv_lookup(sfn_jctx_t *ctx, sfn_jenv_t *env,
    const char *name, size_t len);
int sfn_jfn_arity(const sfn_jv_t *f);
sfn_jv_t *sfn_jlookup(sfn_jctx_t *ctx, sfn_jv_t *input, const char *k,
    size_t len);
sfn_jv_t *sfn_jsort(sfn_jctx_t *ctx, sfn_jv_t *arr, sfn_jv_t *comparator,
    sfn_jnode_t *expr, sfn_jenv_t *env);
sfn_jv_t *sfn_jfn_clone(sfn_jctx_t *ctx, sfn_jv_t **a, int n,
    sfn_jv_t *input, sfn_jenv_t *env);
sfn_jv_t *sfn_jcall(sfn_jctx_t *ctx, sfn_jv_t *f, sfn_jv_t **args, int n,
    sfn_jenv_t *env);
sfn_jv_t *sfn_jhof_call(sfn_jctx_t *ctx, sfn_jv_t *f, sfn_jv_t *a1,
    sfn_jv_t *a2, sfn_jv_t *a3, sfn_jenv_t *env);


/* sfn_jsonata_fn.c */

sfn_jbuiltin_t *sfn_jsonata_builtin(const char *name, size_t len);
sfn_jv_t *sfn_jsonata_validate(sfn_jctx_t *ctx, sfn_jsig_t *sig,
    sfn_jv_t **args, int nargs, sfn_jv_t *context, sfn_jv_t ***out,
    int *nout);
sfn_jv_t *sfn_jfn_string(sfn_jctx_t *ctx, sfn_jv_t *v);
void sfn_jarg_missing(sfn_jctx_t *ctx, int index) __attribute__((noreturn));
pcre2_code *sfn_jregex_compile(const char *pat, size_t len,
    const char *flags, size_t flen, pcre2_general_context *gctx);
int sfn_jregex_exec(sfn_jctx_t *ctx, pcre2_code *re, const char *s,
    size_t len, size_t from, size_t *ov, int *ngroups);


/* sfn_jsonata_aws.c */

sfn_jbuiltin_t *sfn_jsonata_aws_builtin(const char *name, size_t len);


/* sfn_jsonata_time.c */

sfn_jv_t *sfn_jfn_format_integer(sfn_jctx_t *ctx, sfn_jv_t **a, int n,
    sfn_jv_t *input, sfn_jenv_t *env);
sfn_jv_t *sfn_jfn_parse_integer(sfn_jctx_t *ctx, sfn_jv_t **a, int n,
    sfn_jv_t *input, sfn_jenv_t *env);
sfn_jv_t *sfn_jfn_from_millis(sfn_jctx_t *ctx, sfn_jv_t **a, int n,
    sfn_jv_t *input, sfn_jenv_t *env);
sfn_jv_t *sfn_jfn_to_millis(sfn_jctx_t *ctx, sfn_jv_t **a, int n,
    sfn_jv_t *input, sfn_jenv_t *env);
sfn_jv_t *sfn_jfn_now(sfn_jctx_t *ctx, sfn_jv_t **a, int n,
    sfn_jv_t *input, sfn_jenv_t *env);
sfn_jv_t *sfn_jfn_format_number(sfn_jctx_t *ctx, sfn_jv_t **a, int n,
    sfn_jv_t *input, sfn_jenv_t *env);


#endif /* _SFN_JSONATA_INT_H_INCLUDED_ */

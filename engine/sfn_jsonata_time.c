#include "sfn_jsonata_int.h"
#define T(n) sfn_jv_t *n(sfn_jctx_t *ctx, sfn_jv_t **a, int n_, sfn_jv_t *input, sfn_jenv_t *env) { sfn_jthrow(ctx, "X0000"); }
T(sfn_jfn_format_integer)
T(sfn_jfn_parse_integer)
T(sfn_jfn_from_millis)
T(sfn_jfn_to_millis)
T(sfn_jfn_now)
T(sfn_jfn_format_number)

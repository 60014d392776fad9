
/*
 * Copyright (C) ngx_sfn authors
 */


#include "sfn_media.h"


int
sfn_media_qc(sfn_task_call_t *call)
{
    return sfn_task_fail(call, NULL, "not yet");
}

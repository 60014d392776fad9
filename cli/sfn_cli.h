
/*
 * Copyright (C) ngx_sfn authors
 */

#ifndef _SFN_CLI_H_INCLUDED_
#define _SFN_CLI_H_INCLUDED_


int sfn_cli_known(void *data, const char *resource);


#endif /* _SFN_CLI_H_INCLUDED_ */

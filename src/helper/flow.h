/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What nextpay-helper does for each request from the module: the device-code
 * flow with its polling, retries and back-off; checking a token; exchanging
 * an API key; probing that the API can be reached.  Every outcome goes back
 * to the module as one protocol message.
 */
#ifndef NP_HELPER_FLOW_H
#define NP_HELPER_FLOW_H

#include "common/lineio.h"
#include "common/protocol.h"
#include "helper/http.h"

struct np_flow {
	struct np_http http;
	struct np_line_reader from_module;
	int to_module;
	char line[NP_LINE_MAX];
	struct np_msg out;
};

/* Sends one message to the module; -1 when it is gone. */
int np_flow_emit(struct np_flow *f, const struct np_msg *m);

/* Sends a failure with a detail (sanitised here). */
int np_flow_fail(struct np_flow *f, enum np_failure_reason reason, const char *detail);

/* Each returns 0 when it reported an outcome, -1 when the module is gone or broke protocol. */
int np_flow_device_login(struct np_flow *f, const struct np_msg_device_login *req);
int np_flow_whoami(struct np_flow *f, const char *token);
int np_flow_api_key(struct np_flow *f, const char *api_key);

/* One unauthenticated request: ready if any HTTP answer came back, else failure. */
int np_flow_probe(struct np_flow *f);

#endif

/*
 * server/errors.h — every error reply text the server sends, kept in one
 * place and spelled exactly as Redis 7.0 spells it (clients and tests match
 * on these strings). Formats take printf arguments where Redis's do.
 */
#ifndef SERVER_ERRORS_H
#define SERVER_ERRORS_H

#define ERR_SYNTAX          "ERR syntax error"
#define ERR_NOT_INTEGER     "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT       "ERR value is not a valid float"
#define ERR_INCR_OVERFLOW   "ERR increment or decrement would overflow"
#define ERR_NAN_INF         "ERR increment would produce NaN or Infinity"
#define ERR_NO_SUCH_KEY     "ERR no such key"
#define ERR_WRONGTYPE       "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_TOO_BIG         "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
#define ERR_OFFSET_RANGE    "ERR offset is out of range"
#define ERR_DB_RANGE        "ERR DB index is out of range"
#define ERR_OOM             "OOM command not allowed when used memory > 'maxmemory'."
#define ERR_NOAUTH          "NOAUTH Authentication required."
#define ERR_WRONGPASS       "WRONGPASS invalid username-password pair or user is disabled."
#define ERR_AUTH_NOPASS     "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
#define ERR_HELLO_NOAUTH    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
#define ERR_NOPROTO         "NOPROTO unsupported protocol version"
#define ERR_MAX_CLIENTS     "ERR max number of clients reached"
#define ERR_TIMEOUT_INT     "ERR timeout is not an integer or out of range"
#define ERR_CURSOR          "ERR invalid cursor"
#define ERR_NO_SUCH_CLIENT  "ERR No such client"
#define ERR_CLIENT_NAME     "ERR Client names cannot contain spaces, newlines or special characters."
#define ERR_INTERNAL        "ERR internal error"
/* ours: Redis aborts instead */
#define ERR_QUERY_NOMEM     "ERR out of memory for the query buffer"
#define ERR_SHUTDOWN_NOSAVE "ERR Errors trying to SHUTDOWN. Check logs."

/* Formats. */
#define ERR_UNKNOWN_CMD_FMT "ERR unknown command '%.128s', with args beginning with: %s"
#define ERR_UNKNOWN_SUB_FMT "ERR unknown subcommand '%.128s'. Try %s HELP."
#define ERR_ARITY_FMT       "ERR wrong number of arguments for '%s' command"
#define ERR_EXPIRE_FMT      "ERR invalid expire time in '%s' command"
#define ERR_NEG_OR_ZERO_FMT "ERR %s must be positive"

#endif

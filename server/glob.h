/*
 * server/glob.h — Redis's glob-style matching (KEYS, SCAN MATCH, CONFIG GET):
 * * ? [abc] [^a] [a-z] and \ escapes, over binary strings.
 */
#ifndef SERVER_GLOB_H
#define SERVER_GLOB_H

#include <stdbool.h>
#include <stddef.h>

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen,
                bool nocase);

#endif

/*
 * tests/criterion_ops.h — Criterion's new assertions, with gt() that can
 * fail. Include it instead of <criterion/new/assert.h>.
 *
 * Criterion 2.4.1 (Debian 12) defines the tagged gt() for C as "not less
 * than", so cr_assert(gt(i64, x, 0)) passes with x == 0: every gt(Tag, ...)
 * in our tests held on equality, and a counter that stayed at 0 passed
 * "> 0". Redefined as "neither less nor equal".
 */
#ifndef TESTS_CRITERION_OPS_H
#define TESTS_CRITERION_OPS_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#if !defined(__cplusplus) && defined(CRI_BINOP_T_GT)
#undef CRI_BINOP_T_GT
#define CRI_BINOP_T_GT(Tag, Actual, Ref)                                                          \
    (CRI_BINOP_LT_TAG(Tag, !, Actual, Ref) && CRI_BINOP_EQ_TAG(Tag, !, Actual, Ref))
#endif

#endif

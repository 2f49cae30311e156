/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Environment blocks for spawned programs. Clients may send large lists, so
 * merging is O(n log n), never a scan per entry.
 */

#include <stdbool.h>
#include <stddef.h>

bool env_name_is_valid(const char *name);
bool env_assignment_is_valid(const char *assignment);

/**
 * env_merge() - compose a child's environment.
 * @base: starting environment (may be NULL); entries without '=' are dropped
 * @unset: names removed from @base (may be NULL)
 * @set: NAME=VALUE entries applied last; a later entry wins over an earlier one
 * @ret: a NULL-terminated array of pointers borrowed from @base and @set;
 *       free it with free() only.
 *
 * Return: 0, or -ENOMEM.
 */
int env_merge(char * const *base, char * const *unset, char * const *set, char ***ret);

/* Returns the value of @name in @env, or NULL. */
const char *env_get(char * const *env, const char *name);

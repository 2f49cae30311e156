/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "cw-test.h"

int main(int argc, char **argv) {
        cw_test_init(&argc, &argv);
        return g_test_run();
}

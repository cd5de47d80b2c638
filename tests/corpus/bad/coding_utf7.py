# -*- coding: utf-7 -*-
# expect: coding-declaration
# technique: utf-7 turns this comment into code: +AAo-import os
x = 1

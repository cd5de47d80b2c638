# expect: invisible-character
# technique: Trojan Source: a bidi override makes code read differently
access = 'user‮ ⁦# admin⁩ ⁦'

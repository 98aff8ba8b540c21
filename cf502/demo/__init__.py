"""`cf502 demo`: broken origins on loopback, diagnosed by the real engine, with nothing to set up.

It starts its own certificate authority (`ca`), DNS server (`dns`) and origins (`origins`), one per
scenario (`scenarios`: what each gets wrong and what a diagnosis must find), in one loopback world
(`lab`) that is torn down when the demo ends; `run` diagnoses them, `summary` renders the result.
Private targets are allowed here only, with the demo's own resolver and CA file.

It sits above the engine (it runs diagnoses) and below the command line, which alone imports it.
"""

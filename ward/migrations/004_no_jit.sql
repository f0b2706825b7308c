-- PostgreSQL's JIT compiles a query whose estimated cost is high, and the
-- dashboard's ward query (a lateral probe per patient) estimates high: the
-- compiling took 1.1 s of a 1.2 s query that runs in 20 ms without it.  The
-- ward's queries are short and frequent, so JIT is off for this database
-- (new sessions; an analyst may still SET jit = on for a long report).
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END $$;

-- tests/compat/scripts/sqlite.sql: fed to `sqlite3 test.db` on stdin: a
-- file-backed database (journal, fsync, fcntl locks), recursive CTEs,
-- joins, aggregates, window functions, transactions and an index.
.headers on
.mode list
PRAGMA journal_mode=WAL;
CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, city TEXT);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customer(id),
                    amount INTEGER, day INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
INSERT INTO customer SELECT i, 'cust' || i, char(65 + i % 7) || 'ville' FROM n;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO orders SELECT i, 1 + (i * 7919) % 500, (i * 104729) % 1000, i % 365 FROM n;
COMMIT;
CREATE INDEX orders_by_customer ON orders(customer);
SELECT count(*) AS orders, sum(amount) AS total FROM orders;
SELECT city, count(DISTINCT c.id) AS customers, sum(o.amount) AS revenue
  FROM customer c JOIN orders o ON o.customer = c.id
  GROUP BY city ORDER BY revenue DESC;
SELECT name, total, rank FROM (
  SELECT c.name, sum(o.amount) AS total,
         rank() OVER (ORDER BY sum(o.amount) DESC) AS rank
    FROM customer c JOIN orders o ON o.customer = c.id GROUP BY c.id)
 WHERE rank <= 5;
SELECT day, sum(amount) OVER (ORDER BY day ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS moving
  FROM (SELECT day, sum(amount) AS amount FROM orders GROUP BY day) WHERE day < 6;
BEGIN;
DELETE FROM orders WHERE amount < 500;
SELECT count(*) AS after_delete FROM orders;
ROLLBACK;
SELECT count(*) AS after_rollback FROM orders;
UPDATE orders SET amount = amount + 1 WHERE customer = 42;
SELECT sum(amount) AS cust42 FROM orders WHERE customer = 42;
PRAGMA wal_checkpoint(TRUNCATE);
PRAGMA integrity_check;
SELECT printf('%.3f', avg(amount)) AS avg, length(zeroblob(1000)) AS zb FROM orders;

-- Spending caps a merchant's operator may set: at most this much of the
-- wallet spent (orders' cost held), and at most this many orders, per
-- Malaysia-time day (none: no cap). An order beyond them is refused (54)
-- before anything is held. What a capped merchant spent each day is counted
-- by the writer in the order's own transaction.
ALTER TABLE merchants ADD COLUMN daily_cap_amount_minor INTEGER CHECK (daily_cap_amount_minor > 0);
ALTER TABLE merchants ADD COLUMN daily_cap_count INTEGER CHECK (daily_cap_count > 0);
CREATE TABLE spend_days (
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    day          INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, day)
);

//! `tambah verify` on SQLite: every ledger invariant as a query that lists the
//! rows breaking it.

use rusqlite::Connection;
use tambah_store::{Check, VerifyRule as Rule};

const RULES: &[Rule] = &[
    Rule {
        name: "every wallet entry records its wallet and the wallet's balance right after it",
        examined: "SELECT COUNT(*) FROM transfers WHERE wallet_account IS NOT NULL",
        violations: "WITH r AS (
                SELECT id, kind, wallet_account, wallet_balance_after_minor AS stored,
                    CASE kind WHEN 'HOLD' THEN debit_account WHEN 'POST' THEN NULL ELSE credit_account END AS wallet,
                    SUM(CASE WHEN kind = 'HOLD' THEN -amount_minor ELSE amount_minor END)
                        OVER (PARTITION BY wallet_account ORDER BY id) AS running
                FROM transfers)
            SELECT 'transfer ' || id || ' (' || kind || ') records wallet ' || COALESCE(wallet_account, 'none') ||
                   ' and balance ' || COALESCE(stored, 'none') || '; expected wallet ' || COALESCE(wallet, 'none') ||
                   ' and balance ' || COALESCE(running, 'none')
            FROM r WHERE wallet_account IS NOT wallet OR (wallet IS NOT NULL AND stored IS NOT running)",
    },
    Rule {
        name: "entries balance: the accounts of all environments sum to zero",
        examined: "SELECT COUNT(*) FROM ledger_accounts",
        violations: "SELECT 'accounts sum to ' || SUM(balance_minor) FROM ledger_accounts HAVING SUM(balance_minor) <> 0",
    },
    Rule {
        name: "every transfer moves a positive amount between two accounts of one environment",
        examined: "SELECT COUNT(*) FROM transfers",
        violations: "SELECT 'transfer ' || t.id || ' is malformed' FROM transfers t
            JOIN ledger_accounts d ON d.id = t.debit_account JOIN ledger_accounts c ON c.id = t.credit_account
            WHERE t.amount_minor <= 0 OR t.debit_account = t.credit_account OR d.environment <> c.environment",
    },
    Rule {
        name: "each account's balance equals the sum of its entries",
        examined: "SELECT COUNT(*) FROM ledger_accounts",
        // One grouped pass over every entry (each side), not a scan per account.
        violations: "WITH sums AS (
                SELECT account, SUM(delta) AS total FROM (
                    SELECT credit_account AS account, amount_minor AS delta FROM transfers
                    UNION ALL SELECT debit_account, -amount_minor FROM transfers)
                GROUP BY account)
            SELECT 'account ' || a.id || ' (' || a.kind || ') holds ' || a.balance_minor || ' but its entries sum to ' ||
                COALESCE(s.total, 0)
            FROM ledger_accounts a LEFT JOIN sums s ON s.account = a.id
            WHERE a.balance_minor <> COALESCE(s.total, 0)",
    },
    Rule {
        name: "no wallet (or holds or revenue account) is negative",
        examined: "SELECT COUNT(*) FROM ledger_accounts",
        violations: "SELECT 'account ' || id || ' (' || kind || ') is negative: ' || balance_minor
            FROM ledger_accounts WHERE kind <> 'funding' AND balance_minor < 0",
    },
    Rule {
        name: "the holds account equals the sum of unresolved holds",
        examined: "SELECT COUNT(*) FROM ledger_accounts WHERE kind = 'holds'",
        violations: "SELECT 'holds account ' || a.id || ' is ' || a.balance_minor || ', unresolved holds sum to ' ||
                COALESCE((SELECT SUM(h.amount_minor) FROM transfers h WHERE h.kind = 'HOLD' AND h.credit_account = a.id
                    AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id)), 0)
            FROM ledger_accounts a WHERE a.kind = 'holds' AND a.balance_minor <>
                COALESCE((SELECT SUM(h.amount_minor) FROM transfers h WHERE h.kind = 'HOLD' AND h.credit_account = a.id
                    AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id)), 0)",
    },
    Rule {
        name: "every hold is posted or voided at most once, for its full amount, by its own order",
        examined: "SELECT COUNT(*) FROM transfers WHERE kind = 'HOLD'",
        violations: "SELECT 'hold ' || h.id || ' resolved ' || COUNT(r.id) || ' times' FROM transfers h
                JOIN transfers r ON r.pending_id = h.id WHERE h.kind = 'HOLD' GROUP BY h.id HAVING COUNT(r.id) > 1
            UNION ALL
            SELECT 'transfer ' || r.id || ' resolves ' || r.pending_id || ' wrongly' FROM transfers r
                JOIN transfers h ON h.id = r.pending_id
                WHERE h.kind <> 'HOLD' OR r.amount_minor <> h.amount_minor OR r.order_id IS NOT h.order_id
                   OR (r.kind = 'POST' AND r.debit_account <> h.credit_account)
                   OR (r.kind = 'VOID' AND (r.debit_account <> h.credit_account OR r.credit_account <> h.debit_account))",
    },
    Rule {
        name: "every order's ledger entries match its status",
        examined: "SELECT COUNT(*) FROM orders",
        violations: "WITH t AS (
                SELECT o.id, o.refid, o.status, o.cost_minor,
                    (SELECT amount_minor FROM transfers WHERE order_id = o.id AND kind = 'HOLD') AS hold,
                    EXISTS (SELECT 1 FROM transfers WHERE order_id = o.id AND kind = 'POST') AS posted,
                    EXISTS (SELECT 1 FROM transfers WHERE order_id = o.id AND kind = 'VOID') AS voided,
                    (SELECT amount_minor FROM transfers WHERE order_id = o.id AND kind = 'REFUND') AS refund
                FROM orders o)
            SELECT 'order ' || id || ' (refid ' || refid || ', status ' || status || ') has hold=' || COALESCE(hold, 'none') ||
                   ' posted=' || posted || ' voided=' || voided || ' refund=' || COALESCE(refund, 'none') || ' cost=' || cost_minor
            FROM t WHERE NOT (
                   (status IN (0, 1) AND hold = cost_minor AND NOT posted AND NOT voided AND refund IS NULL)
                OR (status = 20 AND hold = cost_minor AND posted AND NOT voided AND refund IS NULL)
                OR (status = 53 AND hold = cost_minor AND posted AND NOT voided AND refund = cost_minor)
                OR (status >= 40 AND status <> 53 AND hold IS NULL AND NOT posted AND NOT voided AND refund IS NULL)
                OR (status >= 40 AND status <> 53 AND hold = cost_minor AND voided AND NOT posted AND refund IS NULL))",
    },
    Rule {
        name: "every transfer of an order moves that order's merchant's wallet",
        examined: "SELECT COUNT(*) FROM transfers WHERE order_id IS NOT NULL",
        violations: "SELECT 'transfer ' || t.id || ' of order ' || t.order_id || ' touches another wallet' FROM transfers t
            JOIN orders o ON o.id = t.order_id
            JOIN ledger_accounts w ON w.merchant_id = o.merchant_id
            WHERE (t.kind IN ('HOLD') AND t.debit_account <> w.id)
               OR (t.kind IN ('VOID', 'REFUND') AND t.credit_account <> w.id)",
    },
];

pub(crate) fn run(conn: &Connection) -> rusqlite::Result<Vec<Check>> {
    let mut checks = Vec::with_capacity(RULES.len());
    for rule in RULES {
        let examined: u64 = conn.query_row(rule.examined, [], |r| r.get(0))?;
        let mut stmt = conn.prepare(rule.violations)?;
        let violations = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        checks.push(Check::from_rule(rule, examined, violations));
    }
    checks.push(crate::chain::verify(conn)?);
    Ok(checks)
}

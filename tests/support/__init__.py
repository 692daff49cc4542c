"""What the tests share: skips, databases, accounts, live servers, loads and faults. No test module
imports another; they import from here."""

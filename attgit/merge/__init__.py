"""Keyed diff; three-way cell merge of records, companies and trees; the plan that applies one."""

package db

// ListDueSchedulesSQL is ListDueSchedules' statement, for tests that look at its plan.
const ListDueSchedulesSQL = listDueSchedules

-- wrk script: an empty POST (for the group-commit ceiling).
wrk.method = "POST"

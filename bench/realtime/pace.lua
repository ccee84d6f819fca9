-- wrk script: every connection waits 100 ms before each request, like a dashboard polling
-- ten times a second (wrk's latency figures do not include the wait).
function delay()
   return 100
end

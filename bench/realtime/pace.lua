-- wrk script: every connection waits about 100 ms (50 to 150, at random) before each
-- request, like a dashboard polling ten times a second; the jitter keeps 200 pollers from
-- firing in lockstep, as real viewers do not (wrk's latency figures exclude the wait).
function init(args)
   math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function delay()
   return math.random(50, 150)
end

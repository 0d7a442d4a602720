"""Constants shared by the API tests: the spec's §8 key K, blog B and the body of case 8."""
K = "0123456789ab"
B = "https://blog.example"
CASE8 = {"api_key": K, "blog": B, "user_ip": "203.0.113.5", "user_agent": "Mozilla/5.0",
         "comment_type": "comment", "comment_author": "Jane", "comment_content": "Nice post"}
